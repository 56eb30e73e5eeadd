using Parley.Server.Delivery;
using Parley.Server.Features.Admin;
using Parley.Server.Features.Auth;
using Parley.Server.Features.Conversations;
using Parley.Server.Features.Health;
using Parley.Server.Features.Messages;
using Parley.Server.Features.Participants;
using Parley.Server.Features.Search;
using Parley.Server.Features.Users;
using Parley.Server.Features.WebClient;
using Parley.Server.Http;
using Parley.Server.Http.Admission;
using Parley.Server.Observability;

namespace Parley.Server.Extensions;

public static class ParleyPipeline
{
    public static WebApplication UseParley(this WebApplication app)
    {
        ServerTiming.UseServerTiming(app);
        app.UseHttpLogging();
        app.UseExceptionHandler();
        // Unknown routes, wrong methods and media types answer problem+json too.
        app.UseStatusCodePages();
        app.UseWebClient();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        app.UseAdmissionControl();
        app.MapHealthApi();
        app.MapPrometheusMetrics();
        app.MapAuthApi();
        app.MapConversationsApi();
        app.MapParticipantsApi();
        app.MapMessagesApi();
        app.MapSearchApi();
        app.MapUsersApi();
        app.MapRealtimeApi();
        app.MapFlagsApi();
        app.MapParleyApiDocs();
        return app;
    }
}

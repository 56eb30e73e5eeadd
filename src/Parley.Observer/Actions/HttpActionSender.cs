using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Logging;

namespace Parley.Observer.Actions;

/// <summary>
/// The POST that webhook and Slack actions share: one pooled HTTP client (connections recycled every
/// <see cref="ConnectionLifetime"/> so DNS changes are seen; a response disposed unread is drained by the handler, so its
/// connection is reused), the action's timeout, the endpoint's circuit breaker,
/// and the mapping of a response to an <see cref="ActionResult"/>. Never throws for a failed attempt.
/// </summary>
public sealed partial class HttpActionSender : IDisposable
{
    /// <summary>How long a pooled connection is reused before a new one is opened.</summary>
    public static readonly TimeSpan ConnectionLifetime = TimeSpan.FromMinutes(2);

    /// <summary>The longest timeout an attempt may have (the rules refuse more long before this).</summary>
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromHours(1);

    private readonly HttpClient _client;
    private readonly EndpointBreakers _breakers;
    private readonly TimeProvider _time;
    private readonly ILogger<HttpActionSender> _log;

    public HttpActionSender(EndpointBreakers breakers, TimeProvider time, ILogger<HttpActionSender> log)
    {
        _breakers = breakers;
        _time = time;
        _log = log;
        // Redirects are not followed: a receiver that moved answers 3xx, which is a failed attempt the operator sees.
        _client = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = ConnectionLifetime, AllowAutoRedirect = false })
        {
            Timeout = Timeout.InfiniteTimeSpan, // Each attempt has its own timeout (the action's).
        };
        _client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("Parley-Observer", "1"));
    }

    /// <summary>POSTs <paramref name="body"/> as <c>application/json</c>; <paramref name="headers"/> adds headers at send time (signatures).</summary>
    public Task<ActionResult> PostJsonAsync(Uri url, byte[] body, TimeSpan timeout, Action<HttpRequestHeaders>? headers, CancellationToken ct) =>
        timeout > TimeSpan.Zero && timeout <= MaxTimeout
            ? _breakers.ExecuteAsync(url, token => SendAsync(url, body, timeout, headers, token), ct)
            : Task.FromResult(new ActionResult(ActionOutcome.Failed, Error: $"timeout {timeout} is not between 0 and {MaxTimeout}"));

    private async ValueTask<ActionResult> SendAsync(Uri url, byte[] body, TimeSpan timeout, Action<HttpRequestHeaders>? headers, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        headers?.Invoke(request.Headers);
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
        attempt.CancelAfter(timeout);
        try
        {
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, attempt.Token).ConfigureAwait(false);
            var result = ToResult(response);
            if (result.Outcome != ActionOutcome.Succeeded)
                LogFailed(url, result.Status, result.Error);
            return result;
        }
        // The worker's own deadline for the attempt is the same timeout and often fires first: a cancellation is a failed
        // attempt either way, so the breaker counts a hanging endpoint (it never opened on one when this threw).
        catch (OperationCanceledException)
        {
            LogFailed(url, null, "timeout");
            return new ActionResult(ActionOutcome.Failed, Error: $"timed out after {timeout.TotalSeconds:0.###} s");
        }
        catch (HttpRequestException e)
        {
            LogFailed(url, null, e.Message);
            return new ActionResult(ActionOutcome.Failed, Error: e.Message);
        }
    }

    private ActionResult ToResult(HttpResponseMessage response)
    {
        var status = (int)response.StatusCode;
        return response.StatusCode switch
        {
            _ when response.IsSuccessStatusCode => ActionResult.Success(status),
            HttpStatusCode.Gone => new ActionResult(ActionOutcome.Gone, status, "410 Gone: the receiver asked for the endpoint to be disabled"),
            HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable =>
                new ActionResult(ActionOutcome.Failed, status, $"HTTP {status}", RetryAfter(response.Headers.RetryAfter)),
            _ => new ActionResult(ActionOutcome.Failed, status, $"HTTP {status}"),
        };
    }

    /// <summary><c>Retry-After</c> as seconds or an HTTP date, never negative; null when absent.</summary>
    private TimeSpan? RetryAfter(RetryConditionHeaderValue? header) => header switch
    {
        { Delta: { } delta } => delta < TimeSpan.Zero ? TimeSpan.Zero : delta,
        { Date: { } date } => date > _time.GetUtcNow() ? date - _time.GetUtcNow() : TimeSpan.Zero,
        _ => null,
    };

    public void Dispose() => _client.Dispose();

    [LoggerMessage(Level = LogLevel.Information, Message = "Action POST to {Url} failed: status {Status}, {Error}")]
    private partial void LogFailed(Uri url, int? status, string? error);
}

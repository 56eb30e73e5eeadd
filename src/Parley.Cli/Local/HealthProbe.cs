namespace Parley.Cli.Local;

/// <summary>Asks a Parley node whether it is ready (<c>GET /health/ready</c> answers 200).</summary>
public static class HealthProbe
{
    private static readonly HttpClient Client = new() { Timeout = TimeSpan.FromSeconds(3) };

    public static async Task<bool> IsReadyAsync(string baseUrl, CancellationToken ct = default)
    {
        try
        {
            using var response = await Client.GetAsync(new Uri(new Uri(baseUrl), "/health/ready"), ct);
            return response.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            return false;
        }
    }
}

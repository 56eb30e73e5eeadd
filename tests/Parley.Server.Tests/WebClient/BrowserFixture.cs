using Microsoft.Playwright;

namespace Parley.Server.Tests.WebClient;

/// <summary>
/// One headless Chromium for the web client's tests: Debian's <c>/usr/bin/chromium</c> (or
/// <c>PARLEY_CHROMIUM</c>) through Playwright's executable path, since no browser can be downloaded
/// here. Each test opens its own browser contexts (separate storage, so separate users).
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    /// <summary>Every expectation waits up to this long: generous, for a busy 2-core machine; nothing is timed.</summary>
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    public static string ChromiumPath =>
        Environment.GetEnvironmentVariable("PARLEY_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
            throw new InvalidOperationException($"No browser at {ChromiumPath}: run `bash scripts/install-deps.sh chromium` (Debian's chromium), or set PARLEY_CHROMIUM.");
        Assertions.SetDefaultExpectTimeout((float)Wait.TotalMilliseconds);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Timeout = (float)TimeSpan.FromMinutes(2).TotalMilliseconds,
            // Chromium's sandbox needs user namespaces, which a root CI container lacks; the pages are our own, on loopback.
            Args = ["--no-sandbox", "--disable-dev-shm-usage"],
        });
    }

    /// <summary>A fresh context (its own storage: one signed-in user) with a page on <paramref name="baseAddress"/>.</summary>
    public async Task<IPage> NewPageAsync(Uri baseAddress, ViewportSize? viewport = null)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseAddress.ToString(),
            ViewportSize = viewport ?? new ViewportSize { Width = 1100, Height = 760 },
        });
        context.SetDefaultTimeout((float)Wait.TotalMilliseconds);
        var page = await context.NewPageAsync();
        return page;
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        _playwright?.Dispose();
    }
}

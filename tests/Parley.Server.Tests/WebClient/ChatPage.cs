using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Parley.Server.Tests.WebClient;

/// <summary>One signed-in user's tab of the web client, found the way a person finds things: by label and role.</summary>
public sealed class ChatPage(IPage page)
{
    public const string Password = "correct horse";

    public IPage Page => page;

    /// <summary>Signs <paramref name="handle"/> in on a fresh context and waits until its socket is live.</summary>
    public static async Task<ChatPage> SignInAsync(BrowserFixture browser, Uri baseAddress, string handle, ViewportSize? viewport = null)
    {
        var page = await browser.NewPageAsync(baseAddress, viewport);
        await page.GotoAsync("/");
        await page.GetByLabel("Handle", new() { Exact = true }).FillAsync(handle);
        await page.GetByLabel("Password", new() { Exact = true }).FillAsync(Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
        var chat = new ChatPage(page);
        await Expect(page.Locator("#me")).ToHaveTextAsync($"Signed in as {handle}");
        await chat.WaitLiveAsync();
        return chat;
    }

    public Task WaitLiveAsync() => Expect(page.GetByRole(AriaRole.Status)).ToHaveTextAsync("Live");

    public ILocator Conversation(Guid id) => page.Locator($"#conversation-list [data-conversation-id='{id}']");

    public ILocator Badge(Guid id) => Conversation(id).Locator(".unread");

    /// <summary>Confirmed (stored) messages of the open conversation, in the order shown.</summary>
    public ILocator Messages => page.Locator("#message-list > li[data-message-id]");

    public ILocator MessageWithBody(string body) =>
        Messages.Filter(new() { Has = page.Locator(".body", new() { HasTextRegex = new Regex($"^{Regex.Escape(body)}$") }) });

    public ILocator HistoryStatus => page.Locator("#history-status");

    public ILocator Composer => page.GetByLabel("Message", new() { Exact = true });

    public async Task OpenAsync(Guid conversation)
    {
        await Conversation(conversation).ClickAsync();
        await Expect(page.Locator("#conversation")).ToBeVisibleAsync();
        await Expect(HistoryStatus).Not.ToHaveTextAsync("Loading…");
    }

    /// <summary>Types and sends with Enter, as a person does; waits until the bubble is stored (no longer pending).</summary>
    public async Task SendAsync(string body)
    {
        await Composer.FillAsync(body);
        await Composer.PressAsync("Enter");
        await Expect(MessageWithBody(body)).ToHaveCountAsync(1);
    }

    /// <summary>The bodies shown, top to bottom.</summary>
    public async Task<IReadOnlyList<string>> BodiesAsync() => await Messages.Locator(".body").AllTextContentsAsync();

    public async Task CloseAsync() => await page.Context.CloseAsync();
}

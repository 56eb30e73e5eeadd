using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Parley.Server;

namespace Parley.Cli.Local;

/// <summary>Runs Parley server nodes in this process: the part <c>up</c> and <c>serve</c> share.</summary>
public static class ServerHost
{
    /// <summary>
    /// Builds a node with <see cref="ParleyApp.Build"/> (so <paramref name="args"/> and <c>Parley__*</c> environment variables apply),
    /// lays <paramref name="settings"/> over its configuration, starts it and returns it.
    /// </summary>
    public static async Task<WebApplication> StartAsync(
        string[] args, IReadOnlyDictionary<string, string?> settings, string? url, bool quiet, CancellationToken ct)
    {
        var app = ParleyApp.Build(args, builder =>
        {
            builder.Configuration.AddInMemoryCollection(settings);
            if (url is not null)
                builder.WebHost.UseUrls(url);
            if (quiet)
            {
                builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
                builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
            }
        });
        try
        {
            await app.StartAsync(ct);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        return app;
    }

    /// <summary>The addresses a started node listens on (the real port when it was asked for port 0).</summary>
    public static IReadOnlyList<string> Urls(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToList() ?? [];

    /// <summary>
    /// Waits until <paramref name="shutdown"/> fires or a node stops by itself, then runs <paramref name="beforeStop"/>
    /// (<c>up</c> drains its nodes at the balancer) and stops every node.
    /// </summary>
    public static async Task RunUntilShutdownAsync(IReadOnlyList<WebApplication> apps, CancellationToken shutdown, Func<Task>? beforeStop = null)
    {
        var stopped = apps.Select(app => Task.Delay(Timeout.Infinite, app.Lifetime.ApplicationStopping).ContinueWith(_ => { }, TaskScheduler.Default));
        await Task.WhenAny([Task.Delay(Timeout.Infinite, shutdown).ContinueWith(_ => { }, TaskScheduler.Default), .. stopped]);
        if (beforeStop is not null)
            await beforeStop();
        await StopAsync(apps);
    }

    public static async Task StopAsync(IEnumerable<WebApplication> apps)
    {
        foreach (var app in apps)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await app.StopAsync(timeout.Token);
            await app.DisposeAsync();
        }
    }
}

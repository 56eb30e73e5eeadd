using System.ComponentModel.DataAnnotations;
using MailKit.Security;

namespace Parley.Observer.Actions;

/// <summary>The SMTP server email actions send through (MailKit), bound from <c>Parley:Observer:Smtp</c>.</summary>
public sealed class SmtpOptions
{
    public const string Section = "Parley:Observer:Smtp";

    /// <summary>Server host name or address. Default <c>127.0.0.1</c>.</summary>
    [Required]
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>Server port. Default 25.</summary>
    [Range(1, 65535)]
    public int Port { get; set; } = 25;

    /// <summary>The sender address of every mail. Default <c>parley-observer@localhost</c>.</summary>
    [Required]
    public string From { get; set; } = "parley-observer@localhost";

    /// <summary>User name for SMTP authentication; none (no AUTH) by default.</summary>
    public string? User { get; set; }

    /// <summary>Password for <see cref="User"/>.</summary>
    public string? Password { get; set; }

    /// <summary>
    /// TLS: <c>Auto</c> (STARTTLS when the server offers it), <c>None</c>, <c>StartTls</c> (required) or <c>SslOnConnect</c>.
    /// Default <c>Auto</c>.
    /// </summary>
    public SecureSocketOptions Security { get; set; } = SecureSocketOptions.Auto;

    /// <summary>The whole send (connect, authenticate, send, quit) of one mail. Default 10 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00.1", "00:10:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);
}

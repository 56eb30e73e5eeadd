// Like the CLI it tests, Linux only (signals, /proc, the Debian server packages).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

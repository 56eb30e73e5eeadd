// The CLI drives Linux processes (setsid, kill(2), /proc) and the Debian server packages.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

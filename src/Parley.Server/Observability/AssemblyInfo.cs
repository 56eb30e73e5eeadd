using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("Parley.Server.Tests")]

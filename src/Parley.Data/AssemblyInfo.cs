using System.Runtime.CompilerServices;

// The EXPLAIN tests run the stores' own SQL.
[assembly: InternalsVisibleTo("Parley.Data.Tests")]

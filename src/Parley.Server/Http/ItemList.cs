namespace Parley.Server.Http;

/// <summary>A whole list as API.md writes it, <c>{items: [...]}</c> (no paging: a page is <see cref="Parley.Data.Page{T}"/>).</summary>
public sealed record ItemList<T>(IReadOnlyList<T> Items);

namespace Parley.Server.Http;

public static class Paging
{
    /// <summary>Validates <c>limit</c> (1..100); null means the endpoint's default.</summary>
    public static IResult? CheckLimit(int? limit, int fallback, out int size)
    {
        size = limit ?? fallback;
        return size is < 1 or > Limits.MaxPageSize
            ? Problems.Validation("limit", $"limit must be between 1 and {Limits.MaxPageSize}.")
            : null;
    }
}

using Parley.Server.Monitoring;

namespace Parley.Server.Tests.Monitoring;

[Trait("Category", "Smoke")]
public sealed class QueryNamesTests
{
    [Theory]
    [InlineData("-- name: conversation.list\nSELECT * FROM conversations", "conversation.list")]
    [InlineData("  -- name:  Message.History  \r\nSELECT 1", "message.history")]
    [InlineData("-- name: weird name!\nSELECT 1", "weird_name_")]
    [InlineData("SELECT  *\n  FROM messages\tWHERE id = $1", "select * from messages where id = $1")]
    [InlineData("select * from t1 where a = 'it''s' and b = 42", "select * from t1 where a = ? and b = ?")]
    [InlineData("-- a comment\nSELECT 1", "select ?")]
    [InlineData("", "empty")]
    [InlineData("   ", "empty")]
    public void Names_are_short_lower_case_and_free_of_literals(string sql, string expected) =>
        Assert.Equal(expected, QueryNames.For(sql));

    [Fact]
    public void Long_sql_is_cut_to_the_maximum_length()
    {
        string name = QueryNames.For("SELECT id, conversation_id, sender_id, body, created_at FROM messages WHERE conversation_id = $1");
        Assert.Equal(QueryNames.MaxLength, name.Length);
        Assert.StartsWith("select id, conversation_id, sender_id", name, StringComparison.Ordinal);
        Assert.Equal(QueryNames.MaxLength, QueryNames.For("-- name: " + new string('x', 100) + "\nSELECT 1").Length);
    }

    [Fact]
    public void The_same_statement_with_other_literals_gets_the_same_name() =>
        Assert.Equal(QueryNames.For("SELECT pg_sleep(5)"), QueryNames.For("select   pg_sleep(0.25)"));
}

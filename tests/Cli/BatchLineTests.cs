using System.Text;
using System.Text.Json;
using Courier.Host.Batch;
using Courier.Requests;
using Xunit;

namespace Courier.Tests.Cli;

/// <summary>
/// What a batch input line becomes (<see cref="BatchLine.Parse"/>) and how a response body goes into its result
/// (<see cref="BatchResults.Success"/>): pure functions, pinned field by field so that their hot-path code can change.
/// </summary>
public sealed class BatchLineTests
{
    private static readonly Uri Base = new("http://api.example/v1/");

    [Fact]
    public void A_full_line_becomes_the_call_it_describes()
    {
        var line = BatchLine.Parse(
            """{"id":"o-1","method":"post","url":"http://api.example/orders","headers":{"X-Tenant":"t1","content-type":"application/vnd.x+json"},"body":{"n": [1, "\u00e9"]}}""",
            7, null);

        Assert.Equal("o-1", line.Id);
        Assert.Equal(7, line.LineNumber);
        Assert.Equal(HttpMethod.Post, line.Call.Method);
        Assert.Equal(new Uri("http://api.example/orders"), line.Call.Uri);
        Assert.Equal([new("X-Tenant", "t1")], line.Call.Headers);
        var (bytes, contentType) = Body(line.Call);
        Assert.Equal("""{"n": [1, "\u00e9"]}""", Encoding.UTF8.GetString(bytes)); // the value's text as written
        Assert.Equal("application/vnd.x+json", contentType);
    }

    [Theory]
    [InlineData("""{"id":42,"url":"http://h/x"}""", "42")]
    [InlineData("""{"id":4.50,"url":"http://h/x"}""", "4.50")]
    [InlineData("""{"id":"a\"b\u00e9","url":"http://h/x"}""", "a\"bé")]
    [InlineData("""{"url":"http://h/x","id":"last","id":"wins"}""", "wins")]
    [InlineData("""{"x":{"id":"inner"},"id":"outer","method":{"id":"m"},"url":"http://h/x","y":[{"id":"z"}]}""", "outer")]
    public void The_id_is_a_string_or_the_text_of_a_number(string text, string id) =>
        Assert.Equal(id, BatchLine.Parse(text, 1, null).Id);

    [Fact]
    public void Defaults_a_relative_url_a_text_body_and_a_null_body()
    {
        var get = BatchLine.Parse("""{"id":"a","url":"items/3"}""", 1, Base);
        Assert.Equal(HttpMethod.Get, get.Call.Method);
        Assert.Equal(new Uri("http://api.example/v1/items/3"), get.Call.Uri);
        Assert.Null(get.Call.Body);
        Assert.Empty(get.Call.Headers);

        var text = BatchLine.Parse("""{"id":"b","method":"PUT","url":"http://h/x","body":"caf\u00e9 \"1\""}""", 1, null);
        var (bytes, contentType) = Body(text.Call);
        Assert.Equal("café \"1\"", Encoding.UTF8.GetString(bytes));
        Assert.Equal("text/plain; charset=utf-8", contentType);

        Assert.Null(BatchLine.Parse("""{"id":"c","url":"http://h/x","body":null}""", 1, null).Call.Body);
        var number = BatchLine.Parse("""{"id":"d","method":"PATCH","url":"http://h/x","body":12}""", 1, null);
        Assert.Equal(("12", "application/json"), (Encoding.UTF8.GetString(Body(number.Call).Bytes), Body(number.Call).ContentType));
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("""{"id":"a","url":"http://h/x"} trailing""", "not valid JSON")]
    [InlineData("{\"id\":\"a\",\"url\":\"http://h/x\"", "not valid JSON")]
    [InlineData("""{"id":"a","headers":{"X":1},"url":"http://h/x",}""", "not valid JSON")]
    [InlineData("""["id","a"]""", "a line must be a JSON object")]
    [InlineData("""{"url":"http://h/x"}""", "missing \"id\"")]
    [InlineData("""{"id":true,"url":"http://h/x"}""", "missing \"id\"")]
    [InlineData("""{"id":{"url":"http://h/x"},"method":["url"]}""", "missing \"id\"")]
    [InlineData("""{"id":"a","url":{"url":"http://h/x"}}""", "missing \"url\"")]
    [InlineData("""[1,2] x""", "not valid JSON")]
    [InlineData("""5""", "a line must be a JSON object")]
    [InlineData("""{"id":"a"}""", "missing \"url\"")]
    [InlineData("""{"id":"a","url":5}""", "missing \"url\"")]
    [InlineData("""{"id":"a","url":"http://h:x/"}""", "\"url\" is not a URL")]
    [InlineData("""{"id":"a","url":"items/3"}""", "\"url\" is relative and no Courier:BaseAddress is configured")]
    [InlineData("""{"id":"a","url":"ftp://h/x"}""", "\"url\" must be http or https")]
    [InlineData("""{"id":"a","method":"GE T","url":"http://h/x"}""", "\"method\" 'GE T' is not an HTTP method")]
    [InlineData("""{"id":"a","url":"http://h/x","headers":["X"]}""", "\"headers\" must be an object of name: value")]
    [InlineData("""{"id":"a","url":"http://h/x","headers":{"X-A":"1","X-B":2}}""", "header \"X-B\" must be a string")]
    [InlineData("""{"id":"a","url":"ftp://h/x","headers":{"X-B":2}}""", "\"url\" must be http or https")] // the first problem in the documented order
    public void A_malformed_line_throws_a_FormatException_naming_what_is_wrong(string text, string message)
    {
        var error = Assert.Throws<FormatException>(() => BatchLine.Parse(text, 1, null));
        Assert.StartsWith(message, error.Message);
    }

    [Theory]
    [InlineData("""{"a":1,"b":[true,null,"x\u00e9\"y"]}""", "application/json")]
    [InlineData("""{ "a" : 1 }""", "application/problem+json")]
    [InlineData("{\n  \"a\": 1,\r\n  \"b\": \"two\"\n}\n", "application/json")] // pretty-printed: still one result line
    [InlineData("[1,2]", "application/json; charset=utf-8")]
    [InlineData("\uFEFF{\"bom\":true}", "application/json")]
    [InlineData("\uFEFF{\n\"bom\": [1,\n 2]}", "application/json")]
    public void A_JSON_body_is_written_as_the_same_JSON_value_on_one_line(string body, string contentType)
    {
        var json = Success(Encoding.UTF8.GetBytes(body), contentType);

        Assert.Equal((byte)'\n', json[^1]);
        Assert.DoesNotContain((byte)'\n', json[..^1]);
        Assert.DoesNotContain((byte)'\r', json);
        using var result = JsonDocument.Parse(json);
        using var expected = JsonDocument.Parse(body.TrimStart('\uFEFF'));
        Assert.True(JsonElement.DeepEquals(expected.RootElement, result.RootElement.GetProperty("body")), Encoding.UTF8.GetString(json));
        Assert.Equal("r1", result.RootElement.GetProperty("id").GetString());
        Assert.Equal(200, result.RootElement.GetProperty("status").GetInt32());
    }

    [Theory]
    [InlineData("{\"a\":1", "application/json")] // not valid JSON: kept as text
    [InlineData("{\"a\":1} {\"b\":2}", "application/json")]
    [InlineData("{\"a\":1}", "text/plain")] // JSON only when the server says so
    [InlineData("plain\ntext \"quoted\"", "text/plain")]
    public void Any_other_body_is_written_as_a_string(string body, string contentType)
    {
        using var result = JsonDocument.Parse(Success(Encoding.UTF8.GetBytes(body), contentType));
        Assert.Equal(body, result.RootElement.GetProperty("body").GetString());
    }

    [Fact]
    public void A_body_of_invalid_UTF8_labelled_JSON_does_not_put_invalid_UTF8_into_the_results()
    {
        byte[] body = [(byte)'"', 0xC3, 0x28, (byte)'"'];
        var json = Success(body, "application/json");
        Assert.True(System.Text.Unicode.Utf8.IsValid(json));
        using var result = JsonDocument.Parse(json);
        Assert.Equal(JsonValueKind.String, result.RootElement.GetProperty("body").ValueKind);
    }

    private static byte[] Success(byte[] body, string contentType)
    {
        var line = BatchLine.Parse("""{"id":"r1","url":"http://h/x"}""", 1, null);
        return BatchResults.Success(line, 200, 1, TimeSpan.FromMilliseconds(3), body,
            System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType), base64: false);
    }

    private static (byte[] Bytes, string? ContentType) Body(HttpCall call)
    {
        using var content = call.Body!.CreateContent();
        using var bytes = new MemoryStream();
        content.ReadAsStream().CopyTo(bytes);
        return (bytes.ToArray(), content.Headers.ContentType?.ToString());
    }
}

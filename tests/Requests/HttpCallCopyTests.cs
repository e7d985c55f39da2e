using System.Diagnostics;
using System.Reflection;
using Courier.Requests;
using Xunit;

namespace Courier.Tests.Requests;

/// <summary>
/// <c>with</c> on an <see cref="HttpCall"/> goes through a hand-written copy constructor (a copy gets an id of its own), so a
/// property added to the record and forgotten there would be silently dropped by every copy (retries, redirects, the
/// client facade's <c>with</c>): each property is set and checked on a copy.
/// </summary>
public sealed class HttpCallCopyTests
{
    [Fact]
    public void A_copy_keeps_every_property_but_gets_a_new_id()
    {
        var call = new HttpCall(HttpMethod.Put, new Uri("https://api.example.test/orders/7"))
        {
            Headers = [new("X-Trace", "1")],
            Body = RequestBody.Json(new { amount = 10 }),
            RetryNonIdempotent = true,
            Anonymous = true,
            AttemptTimeout = TimeSpan.FromSeconds(3),
            Deadline = TimeSpan.FromSeconds(30),
            MaxRetries = 4,
            Completion = HttpCompletionOption.ResponseHeadersRead,
            Version = System.Net.HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            RequestOptions = [new("k", "v")],
            Credential = "billing",
            TraceParent = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded),
            IsTransfer = true,
        };

        var copy = call with { };

        Assert.NotEqual(call.Id, copy.Id);
        var properties = typeof(HttpCall).GetProperties(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
            .Where(p => p.SetMethod is not null && p.Name is not "Id" && p.GetIndexParameters().Length == 0); // the init properties
        foreach (var property in properties)
        {
            var original = property.GetValue(call);
            Assert.False(IsDefault(original, property.PropertyType), $"the test leaves HttpCall.{property.Name} at its default: set it above");
            Assert.Equal(original, property.GetValue(copy));
        }
    }

    private static bool IsDefault(object? value, Type type) =>
        value is null || (type.IsValueType && value.Equals(Activator.CreateInstance(type)))
        || value is System.Collections.ICollection { Count: 0 };
}

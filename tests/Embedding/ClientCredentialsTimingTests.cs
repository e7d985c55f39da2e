using System.Net;
using Akka.TestKit.Xunit2;
using Courier.Auth;

namespace Courier.Tests.Embedding;

/// <summary>Client credentials on virtual time: the token is got again ahead of its expiry, with no call waiting.</summary>
public sealed class ClientCredentialsTimingTests : TestKit
{
    private readonly TestProbe _seen;
    private readonly ScriptedHandler _endpoint;
    private int _issued;

    public ClientCredentialsTimingTests(ITestOutputHelper output)
        : base(@"akka.scheduler.implementation = ""Akka.TestKit.TestScheduler, Akka.TestKit""", output: output)
    {
        _seen = CreateTestProbe();
        _endpoint = new ScriptedHandler(_seen.Ref, () => Scheduler.Now)
        {
            Default = (_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK)
            {
                Content = new StringContent($"{{\"access_token\":\"cc-{Interlocked.Increment(ref _issued)}\",\"token_type\":\"Bearer\",\"expires_in\":100}}",
                    System.Text.Encoding.UTF8, "application/json"),
            }),
        };
    }

    private TestScheduler Scheduler => (TestScheduler)Sys.Scheduler;

    [Fact]
    public void The_token_is_acquired_at_the_first_call_and_again_ahead_of_expiry()
    {
        var tokenClient = new HttpClient(_endpoint, disposeHandler: false);
        var options = new HttpRuntimeOptions
        {
            Auth = new TokenOptions
            {
                Grant = TokenGrantType.ClientCredentials,
                Acquirer = new ClientCredentialsTokenSource(tokenClient, new Uri("https://idp.example.test/token"), "svc", "secret", scope: "api"),
            },
        };
        var api = new HttpClient(new ScriptedHandler(CreateTestProbe().Ref, () => Scheduler.Now), disposeHandler: false);
        var actors = HttpRuntime.StartActors(Sys, options, () => api, name: "cc-" + Guid.NewGuid().ToString("N")[..8]);

        actors.Tokens!.Tell(new GetToken(1), TestActor);
        Assert.Equal("cc-1", ExpectMsg<TokenGranted>().AccessToken);
        var first = _seen.ExpectMsg<SeenRequest>();
        Assert.Contains("grant_type=client_credentials", first.Body);
        Assert.Contains("scope=api", first.Body);
        Assert.StartsWith("Basic ", first.Headers["Authorization"]);

        // 100 s lifetime, margin min(60 s, 20 % of 100 s) = 20 s: the next grant is due at 80 s, not before.
        Scheduler.Advance(TimeSpan.FromSeconds(79));
        _seen.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        Scheduler.Advance(TimeSpan.FromSeconds(1));
        _seen.ExpectMsg<SeenRequest>();
        AwaitAssert(() =>
        {
            actors.Tokens.Tell(new GetToken(2), TestActor);
            Assert.Equal("cc-2", ExpectMsg<TokenGranted>().AccessToken);
        }, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(20));
        Assert.Equal(2, Volatile.Read(ref _issued));
    }
}

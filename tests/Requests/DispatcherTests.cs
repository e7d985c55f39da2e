using System.Net;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Courier.Requests;
using Xunit;

namespace Courier.Tests.Requests;

/// <summary>
/// Where the request path runs (issue 13): by default on a dispatcher of the runtime's own, a fork-join executor added
/// to the actor system's configuration as a fallback, so that the coordinator and its RequestActors do not queue behind
/// the thread pool's socket work; <see cref="HttpRuntimeOptions.Dispatcher"/> names another, and an application's HOCON
/// that defines the runtime's dispatcher wins over the fallback.
/// </summary>
public sealed class DispatcherTests
{
    private sealed class Ok : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK));
    }

    /// <summary>Runs one call and returns the dispatcher ids of the coordinator and of the RequestActor that ran it.</summary>
    private static async Task<(string Coordinator, string Call, ActorSystem System)> RunOneCallAsync(ActorSystem system, HttpRuntimeOptions options)
    {
        var http = new HttpClient(new Ok());
        var actors = HttpRuntime.StartActors(system, options, () => http, name: "dispatch-" + Guid.NewGuid().ToString("N"));
        var client = new HttpRuntimeClient(actors, options);
        using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "http://api.example.test/items"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var coordinator = (ActorRefWithCell)actors.Requests;
        var child = Assert.Single(coordinator.Children); // the pooled actor that ran the call
        return (coordinator.Underlying.Props.Dispatcher, ((ActorRefWithCell)child).Underlying.Props.Dispatcher, system);
    }

    [Fact]
    public async Task By_default_the_coordinator_and_its_RequestActors_run_on_the_runtimes_own_fork_join_dispatcher()
    {
        using var kit = new TestKit();
        var (coordinator, call, system) = await RunOneCallAsync(kit.Sys, new HttpRuntimeOptions());

        Assert.Equal(HttpRuntimeOptions.DefaultDispatcher, coordinator);
        Assert.Equal(HttpRuntimeOptions.DefaultDispatcher, call);
        Assert.Equal("fork-join-executor", system.Settings.Config.GetString(HttpRuntimeOptions.DefaultDispatcher + ".executor"));
    }

    [Fact]
    public async Task Dispatcher_names_another_one_such_as_the_applications_default()
    {
        using var kit = new TestKit();
        var (coordinator, call, _) = await RunOneCallAsync(kit.Sys, new HttpRuntimeOptions { Dispatcher = "akka.actor.default-dispatcher" });

        Assert.Equal("akka.actor.default-dispatcher", coordinator);
        Assert.Equal("akka.actor.default-dispatcher", call);
    }

    [Fact]
    public async Task An_applications_HOCON_for_the_runtimes_dispatcher_wins_over_the_fallback()
    {
        using var kit = new TestKit(HttpRuntimeOptions.DefaultDispatcher + " { type = Dispatcher, executor = default-executor }");
        var (coordinator, _, system) = await RunOneCallAsync(kit.Sys, new HttpRuntimeOptions());

        Assert.Equal(HttpRuntimeOptions.DefaultDispatcher, coordinator);
        Assert.Equal("default-executor", system.Settings.Config.GetString(HttpRuntimeOptions.DefaultDispatcher + ".executor"));
    }

    [Fact]
    public void An_empty_Dispatcher_is_refused_naming_the_setting()
    {
        var error = Assert.Throws<ArgumentException>(() => new HttpRuntimeOptions { Dispatcher = " " }.Validate());
        Assert.Contains("Courier:Dispatcher", error.Message);
    }
}

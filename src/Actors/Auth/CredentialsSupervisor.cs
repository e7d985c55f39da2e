using Akka.Actor;
using Courier.Errors;

namespace Courier.Auth;

/// <summary>
/// The parent of the named credentials' TokenActors (<see cref="HttpRuntimeOptions.Credentials"/>), one child per name,
/// each with its own refresh, store and events. A message for a credential reaches its TokenActor wrapped in
/// <see cref="ForCredential"/> and is forwarded, so the TokenActor answers the original sender.
/// </summary>
/// <remarks>
/// A TokenActor that throws is restarted (it reloads its store; the waiting calls' deadlines bound their wait), at most
/// ten times a minute; past that it stops and its calls fail with the unknown-credential answer below.
/// </remarks>
internal sealed class CredentialsSupervisor : ReceiveActor
{
    private readonly IReadOnlyDictionary<string, TokenSettings> _credentials;

    private CredentialsSupervisor(IReadOnlyDictionary<string, TokenSettings> credentials)
    {
        _credentials = credentials;
        Receive<ForCredential>(m =>
        {
            var child = Context.Child(m.Name);
            if (!child.IsNobody())
            {
                child.Forward(m.Message);
                return;
            }
            var error = new AuthenticationFailedException("no such credential is running", credential: m.Name);
            switch (m.Message)
            {
                case GetToken get: Sender.Tell(new TokenUnavailable(get.CallId, error)); break;
                case TokenRejected rejected: Sender.Tell(new TokenUnavailable(rejected.CallId, error)); break;
                default: Sender.Tell(new Status.Failure(error)); break;
            }
        });
    }

    public static Props Props(IReadOnlyDictionary<string, TokenSettings> credentials) =>
        Internal.FactoryProducer<CredentialsSupervisor>.Props(() => new CredentialsSupervisor(credentials));

    /// <inheritdoc />
    protected override void PreStart()
    {
        foreach (var (name, settings) in _credentials) Context.ActorOf(TokenActor.Props(settings), name);
    }

    /// <inheritdoc />
    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(10, TimeSpan.FromMinutes(1), _ => Directive.Restart);
}

/// <summary>A TokenActor message (<see cref="GetToken"/>, <see cref="TokenRejected"/>, ...) for the named credential <paramref name="Name"/>.</summary>
internal sealed record ForCredential(string Name, object Message);

// The namespaces nearly every test file imports: the test framework, the actor model and its TestKit, the shared
// test support. A file imports the domain namespaces it uses (Courier.Requests, Courier.Auth...) itself.
global using Akka.Actor;
global using Akka.TestKit;
global using Courier.Tests.Support;
global using Xunit;
global using Xunit.Abstractions;

using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace Courier.Tests.Embedding;

/// <summary>
/// A small real Kestrel server on 127.0.0.1 for what the Sandbox does not do: TLS with a certificate made by the test,
/// HTTP/2 (also h2c), a count of the TCP connections accepted, and large generated bodies.
/// </summary>
internal sealed class LoopbackKestrel : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _connections;

    private LoopbackKestrel(WebApplication app) => _app = app;

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The certificate the server presents (https only).</summary>
    public X509Certificate2? Certificate { get; private set; }

    /// <summary>TCP connections accepted so far, counted by connection middleware.</summary>
    public int Connections => Volatile.Read(ref _connections);

    public static async Task<LoopbackKestrel> StartAsync(bool https, HttpProtocols protocols, Action<WebApplication> map, int? maxStreamsPerConnection = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        var certificate = https ? CreateCertificate() : null;
        LoopbackKestrel? server = null;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            if (maxStreamsPerConnection is { } streams) kestrel.Limits.Http2.MaxStreamsPerConnection = streams;
            kestrel.Listen(IPAddress.Loopback, 0, listen =>
            {
                listen.Protocols = protocols;
                listen.Use(next => async connection =>
                {
                    Interlocked.Increment(ref server!._connections);
                    await next(connection);
                });
                if (certificate is not null) listen.UseHttps(certificate);
            });
        });
        var app = builder.Build();
        server = new LoopbackKestrel(app) { Certificate = certificate };
        map(app);
        await app.StartAsync();
        var port = new Uri(app.Urls.First().Replace("[::]", "127.0.0.1", StringComparison.Ordinal)).Port;
        server.BaseAddress = new Uri($"{(https ? "https" : "http")}://127.0.0.1:{port}/");
        return server;
    }

    /// <summary>A self-signed server certificate for 127.0.0.1 and localhost, valid for a day.</summary>
    private static X509Certificate2 CreateCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        // Re-imported so the private key is usable by SslStream on every platform.
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pfx), null);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        Certificate?.Dispose();
    }
}

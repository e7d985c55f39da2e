namespace Courier.Requests.Hosts;

/// <summary>
/// The unit of per-host politeness: scheme and authority (host and port, the port always explicit), so that
/// <c>https://api.example.com</c> and <c>https://api.example.com:443/x</c> share one state and <c>http://…:8080</c> does not.
/// </summary>
internal readonly record struct HostKey(string Scheme, string Host, int Port)
{
    /// <summary>The key of an absolute URL.</summary>
    /// <exception cref="ArgumentException">The URL is relative.</exception>
    public static HostKey From(Uri url)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (!url.IsAbsoluteUri) throw new ArgumentException("A host key needs an absolute URL.", nameof(url));
        // Uri lower-cases the scheme and host already; IdnHost keeps international names comparable.
        return new HostKey(url.Scheme, url.IdnHost, url.Port);
    }

    /// <inheritdoc />
    public override string ToString() => $"{Scheme}://{Host}:{Port}";
}

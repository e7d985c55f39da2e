namespace Courier.Hosting;

/// <summary>
/// Settings of one <see cref="HttpClient"/> that sends through the runtime (<see cref="CourierHttpClientBuilderExtensions.AddCourier"/>),
/// kept as named options under the client's name. Every property documents its default; values are read when the
/// client's handler is created.
/// </summary>
public sealed class CourierClientOptions
{
    /// <summary>The default of <see cref="MaxBufferedRequestBodyBytes"/>: 1 MiB.</summary>
    public const int DefaultMaxBufferedRequestBodyBytes = 1024 * 1024;

    /// <summary>
    /// Request bodies that end within this many bytes are read once and replayed on every attempt; longer ones are sent
    /// once and such a call is not retried (<see cref="Requests.RequestBody.SendOnce"/>). 0 sends every body once.
    /// </summary>
    /// <value>The default value is 1,048,576 (1 MiB).</value>
    public int MaxBufferedRequestBodyBytes { get; set; } = DefaultMaxBufferedRequestBodyBytes;

    /// <summary>
    /// Hand the response back as soon as its headers are in, with its body streamed from the connection. A handler cannot
    /// see the caller's <see cref="HttpCompletionOption"/>: with <see langword="true"/>, <see cref="HttpCompletionOption.ResponseHeadersRead"/>
    /// streams and <see cref="HttpCompletionOption.ResponseContentRead"/> is buffered by <see cref="HttpClient"/> itself, but a body
    /// cut off mid-way is then not retried. <see langword="false"/> buffers the body inside the attempt (retried when cut
    /// off) for every request. <see cref="HttpCallOptions.Completion"/> overrides it per request.
    /// </summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool StreamResponses { get; set; } = true;

    /// <summary>
    /// A call that ends with an error status (after the retries) comes back as a response with that status, its reason
    /// phrase and the start of its body (<see cref="HttpRuntimeOptions.MaxErrorBodyBytes"/>, as text), as it would from a plain
    /// <see cref="HttpClient"/>: Refit's <c>ApiException</c> and <c>EnsureSuccessStatusCode</c> see it. Other headers of the
    /// error response are not kept. <see langword="false"/> throws instead (an <see cref="HttpRequestException"/> whose inner
    /// exception is the <see cref="Errors.HttpStatusException"/>).
    /// </summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool ErrorStatusAsResponse { get; set; } = true;

    /// <summary>Overrides <see cref="Requests.RetryOptions.MaxRetries"/> for this client's calls.</summary>
    /// <value>The default value is <see langword="null"/> (the runtime's setting).</value>
    public int? MaxRetries { get; set; }

    /// <summary>Overrides <see cref="HttpRuntimeOptions.AttemptTimeout"/> for this client's calls.</summary>
    /// <value>The default value is <see langword="null"/> (the runtime's setting).</value>
    public TimeSpan? AttemptTimeout { get; set; }

    /// <summary>Overrides <see cref="HttpRuntimeOptions.CallDeadline"/> for this client's calls.</summary>
    /// <value>The default value is <see langword="null"/> (the runtime's setting).</value>
    public TimeSpan? Deadline { get; set; }

    /// <summary>Retry this client's POST/PATCH calls after they may have reached the server (see <see cref="Requests.HttpCall.RetryNonIdempotent"/>).</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool RetryNonIdempotent { get; set; }

    /// <summary>Send this client's calls without the runtime's access token (an API that needs none, or brings its own).</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool Anonymous { get; set; }

    /// <summary>
    /// The named credential whose token this client's calls carry (<c>Courier:Credentials:{name}</c>);
    /// <see cref="HttpCallOptions.Credential"/> overrides it per request.
    /// </summary>
    /// <value>The default value is <see langword="null"/> (the default credential, <c>Courier:Auth</c>).</value>
    public string? Credential { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting of the client <paramref name="clientName"/>.</summary>
    public void Validate(string clientName = "")
    {
        var prefix = $"Courier client '{clientName}': ";
        if (MaxBufferedRequestBodyBytes < 0)
            throw new ArgumentOutOfRangeException(nameof(MaxBufferedRequestBodyBytes), MaxBufferedRequestBodyBytes, prefix + "MaxBufferedRequestBodyBytes must not be negative.");
        if (MaxBufferedRequestBodyBytes == int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(MaxBufferedRequestBodyBytes), MaxBufferedRequestBodyBytes, prefix + "MaxBufferedRequestBodyBytes must be less than 2 GiB.");
        if (MaxRetries is < 0 or > 100) throw new ArgumentOutOfRangeException(nameof(MaxRetries), MaxRetries, prefix + "MaxRetries must be between 0 and 100.");
        if (AttemptTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(AttemptTimeout), AttemptTimeout, prefix + "AttemptTimeout must be positive.");
        if (Credential is not null && !HttpRuntimeOptions.IsCredentialName(Credential))
            throw new ArgumentException(prefix + $"Credential '{Credential}' is not a credential name (letters, digits, '-', '_', '.').", nameof(Credential));
        if (Deadline <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(Deadline), Deadline, prefix + "Deadline must be positive.");
    }
}

using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Courier.Sandbox.Auth;

/// <summary>Creates compact HS256 JSON Web Tokens (RFC 7519) signed with a random per-server key.</summary>
internal sealed class JwtWriter
{
    private static readonly string EncodedHeader = Base64Url.EncodeToString("{\"alg\":\"HS256\",\"typ\":\"JWT\"}"u8);

    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);

    public string Create(string subject, DateTimeOffset issuedAt, DateTimeOffset expiresAt, string jti, string familyId, int generation)
    {
        var payload = new ArrayBufferWriter<byte>(192);
        using (var writer = new Utf8JsonWriter(payload))
        {
            writer.WriteStartObject();
            writer.WriteString("sub"u8, subject);
            writer.WriteNumber("iat"u8, issuedAt.ToUnixTimeSeconds());
            writer.WriteNumber("exp"u8, expiresAt.ToUnixTimeSeconds());
            writer.WriteString("jti"u8, jti);
            writer.WriteString("fam"u8, familyId);
            writer.WriteNumber("gen"u8, generation);
            writer.WriteEndObject();
        }

        var signingInput = string.Concat(EncodedHeader, ".", Base64Url.EncodeToString(payload.WrittenSpan));
        var signature = HMACSHA256.HashData(_key, Encoding.ASCII.GetBytes(signingInput));
        return string.Concat(signingInput, ".", Base64Url.EncodeToString(signature));
    }
}

using System.Text;
using System.Text.Json.Nodes;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;
using NJsonSchema;
using NJsonSchema.Validation;

namespace BulkDispatch.Sandbox;

/// <summary>
/// The <c>EventBatch</c> JSON Schema from the embedded Optimizely Event API OpenAPI document, loaded
/// once and used to validate request bodies.
/// </summary>
/// <remarks>
/// One deliberate deviation from the document: Decision <c>experiment_id</c>, <c>variation_id</c> and
/// <c>campaign_id</c> may be <see langword="null"/>. The real Optimizely SDKs send null there, and the
/// schema's own descriptions tell clients to, even though the declared type is string only.
/// </remarks>
public sealed class EventBatchSchema
{
    /// <summary>The logical name of the embedded OpenAPI document.</summary>
    internal const string ResourceName = "optimizely-event-api.openapi.json";

    private const string OpenApiRefPrefix = "#/components/schemas/";
    private const string DefinitionsRefPrefix = "#/definitions/";
    private static readonly string[] NullableDecisionProperties = ["experiment_id", "variation_id", "campaign_id"];
    private static readonly Lazy<Task<EventBatchSchema>> Shared = new(LoadAsync);

    private readonly JsonSchema _schema;

    private EventBatchSchema(JsonSchema schema)
    {
        _schema = schema;
    }

    /// <summary>The schema, loaded from the embedded document on first use.</summary>
    public static Task<EventBatchSchema> GetAsync() => Shared.Value;

    /// <summary>
    /// Builds a standalone JSON Schema document: <c>EventBatch</c> at the root and every component
    /// schema under <c>definitions</c>, with OpenAPI refs rewritten to point there.
    /// </summary>
    internal static string BuildJsonSchemaDocument(string openApiJson)
    {
        var openApi = JsonNode.Parse(openApiJson)?.AsObject()
            ?? throw new InvalidOperationException("The OpenAPI document is empty.");
        var schemas = openApi["components"]?["schemas"]?.DeepClone().AsObject()
            ?? throw new InvalidOperationException("The OpenAPI document has no components.schemas.");
        RewriteRefs(schemas);

        var decision = schemas["Decision"]?["properties"]?.AsObject()
            ?? throw new InvalidOperationException("The OpenAPI document has no Decision schema.");
        foreach (var name in NullableDecisionProperties)
        {
            if (decision[name] is JsonObject property)
            {
                property["type"] = new JsonArray("string", "null");
            }
        }

        // The root is a copy of EventBatch rather than a bare $ref, so errors are reported from the root.
        var root = schemas["EventBatch"]?.DeepClone().AsObject()
            ?? throw new InvalidOperationException("The OpenAPI document has no EventBatch schema.");
        root["$schema"] = "http://json-schema.org/draft-04/schema#";
        root["definitions"] = schemas;
        return root.ToJsonString();
    }

    /// <summary>
    /// Validates one request body. Returns <see langword="null"/> if it is an EventBatch, otherwise the
    /// errors as text, one a line.
    /// </summary>
    public string? Validate(string json)
    {
        JToken token;
        try
        {
            // No date parsing: ISO strings must stay strings for the "type": "string" checks.
            using var reader = new JsonTextReader(new StringReader(json)) { DateParseHandling = DateParseHandling.None };
            token = JToken.ReadFrom(reader);
        }
        catch (JsonReaderException ex)
        {
            return "Body is not valid JSON: " + ex.Message;
        }

        var errors = _schema.Validate(token);
        if (errors.Count == 0)
        {
            return null;
        }

        var text = new StringBuilder();
        foreach (var error in errors)
        {
            Append(text, error, depth: 0);
        }

        return text.ToString().TrimEnd();
    }

    private static async Task<EventBatchSchema> LoadAsync()
    {
        var assembly = typeof(EventBatchSchema).Assembly;
        await using var stream = assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"Embedded resource '{ResourceName}' is missing from {assembly.GetName().Name}.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var openApi = await reader.ReadToEndAsync();
        var schema = await JsonSchema.FromJsonAsync(BuildJsonSchemaDocument(openApi));
        return new EventBatchSchema(schema);
    }

    private static void RewriteRefs(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj.ToList())
                {
                    if (key == "$ref" && value is JsonValue refValue && refValue.TryGetValue<string>(out var reference)
                        && reference.StartsWith(OpenApiRefPrefix, StringComparison.Ordinal))
                    {
                        obj[key] = DefinitionsRefPrefix + reference[OpenApiRefPrefix.Length..];
                    }
                    else
                    {
                        RewriteRefs(value);
                    }
                }

                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    RewriteRefs(item);
                }

                break;
        }
    }

    private static void Append(StringBuilder text, ValidationError error, int depth)
    {
        text.Append(' ', depth * 2)
            .Append(error.Kind)
            .Append(" at ")
            .Append(string.IsNullOrEmpty(error.Path) ? "#" : error.Path);
        if (error.HasLineInfo)
        {
            text.Append(" (line ").Append(error.LineNumber).Append(", position ").Append(error.LinePosition).Append(')');
        }

        text.AppendLine();
        if (error is ChildSchemaValidationError child)
        {
            foreach (var childError in child.Errors.SelectMany(pair => pair.Value))
            {
                Append(text, childError, depth + 1);
            }
        }
    }
}

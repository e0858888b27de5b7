using System.Text;
using BulkDispatch.Core.Wire;
using BulkDispatch.Flush.Engine.Stages;

namespace BulkDispatch.UnitTests.Flush.Stages;

/// <summary>A dead-letter copy fits its queue: the detail gives way first, then the reason; the body never changes.</summary>
public sealed class DeadLetterCopyTests
{
    private const int Limit = 10_000;
    private readonly LedgerKit _kit = new();

    [Fact]
    public void A_copy_that_fits_carries_its_reason_and_detail()
    {
        var copy = Fit("body", "a detail");

        Assert.Equal(("body", "undecodable", "a detail", DeadLetterTrim.None), (copy!.Body, copy.Reason, copy.Detail, copy.Trim));
        Assert.Equal(4 + Attr(WireFormat.ReasonAttribute, "undecodable") + Attr(WireFormat.DetailAttribute, "a detail"), copy.Bytes);
    }

    [Fact]
    public void The_detail_is_shortened_to_exactly_what_is_left_under_the_limit()
    {
        string detail = new('d', 500);
        int room = 300;
        string body = new('b', Limit - Attr(WireFormat.ReasonAttribute, "undecodable") - Attr(WireFormat.DetailAttribute, "") - room);

        var copy = Fit(body, detail);

        Assert.Equal(DeadLetterTrim.DetailShortened, copy!.Trim);
        Assert.Equal(body, copy.Body);
        Assert.Equal(Limit, copy.Bytes);
        Assert.StartsWith(new string('d', room - 3), copy.Detail, StringComparison.Ordinal);
        Assert.EndsWith("…", copy.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_shortened_detail_never_splits_a_character()
    {
        string detail = string.Concat(Enumerable.Repeat("é😀", 200));
        string body = new('b', Limit - Attr(WireFormat.ReasonAttribute, "undecodable") - Attr(WireFormat.DetailAttribute, "") - 50);

        var copy = Fit(body, detail);

        Assert.Equal(DeadLetterTrim.DetailShortened, copy!.Trim);
        Assert.True(copy.Bytes <= Limit);
        Assert.Equal(copy.Detail, Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(copy.Detail!))); // no lone surrogate
    }

    [Fact]
    public void Without_room_for_any_detail_only_the_reason_goes()
    {
        string body = new('b', Limit - Attr(WireFormat.ReasonAttribute, "undecodable"));

        var copy = Fit(body, "a detail");

        Assert.Equal((null, "undecodable", DeadLetterTrim.DetailDropped), (copy!.Detail, copy.Reason, copy.Trim));
        Assert.Equal(Limit, copy.Bytes);
    }

    [Fact]
    public void A_body_at_the_limit_goes_without_attributes_and_one_over_it_does_not_fit()
    {
        var atLimit = Fit(new string('b', Limit), "a detail");
        Assert.Equal((null, null, DeadLetterTrim.AttributesDropped, Limit), (atLimit!.Reason, atLimit.Detail, atLimit.Trim, atLimit.Bytes));

        Assert.Null(Fit(new string('b', Limit + 1), "a detail"));
    }

    [Fact]
    public void An_empty_detail_is_left_out_as_SQS_refuses_empty_attribute_values()
    {
        var copy = Fit("body", "");

        Assert.Equal(("undecodable", null, DeadLetterTrim.None), (copy!.Reason, copy.Detail, copy.Trim));
    }

    [Fact]
    public void A_long_detail_is_cut_to_a_thousand_characters_even_when_there_is_room()
    {
        var copy = Fit("body", new string('d', 5000));

        Assert.Equal(DeadLetterTrim.None, copy!.Trim);
        Assert.Equal(DeadLetterCopy.MaxDetailChars + 1, copy.Detail!.Length);
    }

    private DeadLetterCopy? Fit(string body, string detail) =>
        DeadLetterCopy.Fit(new DeadLetter(body, "undecodable", detail, _kit.Admit(body), null), Limit);

    private static int Attr(string name, string value) => Encoding.UTF8.GetByteCount(name) + "String".Length + Encoding.UTF8.GetByteCount(value);
}

//! DynamoDB table and stream ARNs: which table a record belongs to, and which of its streams.

/// A DynamoDB table ARN (`arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME`) or stream ARN
/// (the same, then `/stream/LABEL`), split into the table it names and the stream's label.
///
/// The label is the stream's creation time (`2015-06-27T00:48:05.899`, as AWS writes it), so
/// a newer stream of a table — after the table is deleted and created again, or its stream is
/// turned off and on — has a label that sorts after the older one's. The mirror orders rows
/// by (label, sequence number) for that reason: sequence numbers of different streams are
/// unrelated (a re-created table's stream may start at the numbers the old one used).
///
/// ```
/// # extern crate dynastream_core as dynastream;
/// use dynastream::event::StreamArn;
///
/// let arn = StreamArn::parse("arn:aws:dynamodb:eu-west-1:123456789012:table/app/stream/2026-11-01T00:00:00.000").unwrap();
/// assert_eq!(arn.table, "arn:aws:dynamodb:eu-west-1:123456789012:table/app");
/// assert_eq!(arn.table_name, "app");
/// assert_eq!(arn.label, Some("2026-11-01T00:00:00.000"));
///
/// let table = StreamArn::parse("arn:aws:dynamodb:eu-west-1:123456789012:table/app").unwrap();
/// assert_eq!((table.table, table.label), ("arn:aws:dynamodb:eu-west-1:123456789012:table/app", None));
/// assert!(StreamArn::parse("arn:aws:kinesis:eu-west-1:123456789012:stream/app").is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamArn<'a> {
    /// The table's ARN: the text up to `table/NAME`.
    pub table: &'a str,
    /// The table's name.
    pub table_name: &'a str,
    /// The stream's label, after `/stream/`; `None` for a table ARN.
    pub label: Option<&'a str>,
}

impl<'a> StreamArn<'a> {
    /// Splits `arn`; `None` when it is not a DynamoDB table or stream ARN (six `:`-separated
    /// fields with service `dynamodb`, a resource `table/NAME` or `table/NAME/stream/LABEL`,
    /// the name and label not empty).
    pub fn parse(arn: &'a str) -> Option<StreamArn<'a>> {
        let mut fields = arn.splitn(6, ':');
        let (prefix, _partition, service, _region, _account, resource) = (
            fields.next()?,
            fields.next()?,
            fields.next()?,
            fields.next()?,
            fields.next()?,
            fields.next()?,
        );
        if prefix != "arn" || service != "dynamodb" {
            return None;
        }
        let rest = resource.strip_prefix("table/")?;
        let (table_name, label) = match rest.split_once('/') {
            None => (rest, None),
            Some((name, stream)) => (name, Some(stream.strip_prefix("stream/")?)),
        };
        if table_name.is_empty() || label.is_some_and(|l| l.is_empty() || l.contains('/')) {
            return None;
        }
        let table_len = arn.len() - rest.len() + table_name.len();
        Some(StreamArn {
            table: &arn[..table_len],
            table_name,
            label,
        })
    }
}

/// A Kinesis data stream's ARN, `arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME` (what a
/// Kinesis record's `eventSourceARN` is), split into its parts.
///
/// ```
/// # extern crate dynastream_core as dynastream;
/// use dynastream::event::KinesisStreamArn;
///
/// let arn = KinesisStreamArn::parse("arn:aws:kinesis:eu-west-1:123456789012:stream/app-changes").unwrap();
/// assert_eq!((arn.region, arn.account, arn.name), ("eu-west-1", "123456789012", "app-changes"));
/// assert!(KinesisStreamArn::parse("arn:aws:dynamodb:eu-west-1:1:table/app").is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KinesisStreamArn<'a> {
    /// `aws`, `aws-cn`, ...
    pub partition: &'a str,
    /// The region.
    pub region: &'a str,
    /// The account.
    pub account: &'a str,
    /// The stream's name.
    pub name: &'a str,
}

impl<'a> KinesisStreamArn<'a> {
    /// Splits `arn`; `None` when it is not a Kinesis stream ARN (six `:`-separated fields with
    /// service `kinesis` and a resource `stream/NAME`, the name not empty and without `/`).
    pub fn parse(arn: &'a str) -> Option<Self> {
        let mut f = arn.splitn(6, ':');
        let (prefix, partition, service, region, account, resource) = (
            f.next()?,
            f.next()?,
            f.next()?,
            f.next()?,
            f.next()?,
            f.next()?,
        );
        if prefix != "arn" || service != "kinesis" {
            return None;
        }
        let name = resource.strip_prefix("stream/")?;
        (!name.is_empty() && !name.contains('/')).then_some(KinesisStreamArn {
            partition,
            region,
            account,
            name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_kinesis_stream_arns_parse_as_such() {
        for bad in [
            "arn:aws:dynamodb:eu-west-1:1:table/app",
            "arn:aws:kinesis:eu-west-1:1:stream/",
            "arn:aws:kinesis:eu-west-1:1:stream/a/consumer/b",
            "arn:aws:kinesis:eu-west-1:1:table/a",
            "app-changes",
        ] {
            assert_eq!(KinesisStreamArn::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_dynamodb_table_and_stream_arns_parse() {
        for bad in [
            "",
            "arn:aws:dynamodb:eu-west-1:1:table/",
            "arn:aws:dynamodb:eu-west-1:1:table/app/stream/",
            "arn:aws:dynamodb:eu-west-1:1:table/app/index/gsi1",
            "arn:aws:dynamodb:eu-west-1:1:table/app/stream/a/b",
            "arn:aws:dynamodb:eu-west-1:1:backup/x",
            "arn:aws:s3:::bucket",
            "nope:aws:dynamodb:eu-west-1:1:table/app",
        ] {
            assert_eq!(StreamArn::parse(bad), None, "{bad}");
        }
        let a = StreamArn::parse(
            "arn:aws-cn:dynamodb:cn-north-1:🦊:table/t.x-1/stream/2020-07-16T21:40:16.952",
        )
        .unwrap();
        assert_eq!(a.table, "arn:aws-cn:dynamodb:cn-north-1:🦊:table/t.x-1");
        assert_eq!(a.table_name, "t.x-1");
        assert_eq!(a.label, Some("2020-07-16T21:40:16.952"));
    }
}

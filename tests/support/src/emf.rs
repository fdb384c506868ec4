//! A checker for CloudWatch Embedded Metric Format objects, from the specification
//! (docs.aws.amazon.com, "Specification: Embedded metric format") and the limits of the
//! reference aws-embedded-metrics libraries: every line `shared::metrics` writes must pass it.

use serde_json::Value;

/// The CloudWatch units (`MetricDatum.Unit`).
const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Checks `v` against the EMF specification: `_aws.Timestamp` (ms, not over 14 days old nor 2
/// hours ahead of now is CloudWatch's window: only the type is checked here), `CloudWatchMetrics`
/// directives with a valid `Namespace`, `Dimensions` (sets of at most 30 keys, each a root string
/// member of 1 to 1024 ASCII characters, names of at most 250 not starting with `:`), `Metrics`
/// (at most 100 in the object, names of 1 to 1024, a CloudWatch unit, each a root number or array
/// of at most 100 numbers).
pub fn check(v: &Value) -> Result<(), String> {
    let root = v.as_object().ok_or("not an object")?;
    let aws = root
        .get("_aws")
        .and_then(Value::as_object)
        .ok_or("no _aws object")?;
    if !aws.get("Timestamp").is_some_and(Value::is_u64) {
        return Err("_aws.Timestamp is not a number of milliseconds".into());
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("no CloudWatchMetrics array")?;
    if directives.is_empty() {
        return Err("CloudWatchMetrics is empty".into());
    }
    let mut metrics = 0;
    for d in directives {
        let ns = d["Namespace"]
            .as_str()
            .ok_or("a directive without Namespace")?;
        let ns_ok = !ns.is_empty()
            && ns.len() <= 256
            && ns
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._#:/-".contains(&b));
        if !ns_ok {
            return Err(format!("invalid Namespace {ns:?}"));
        }
        let sets = d["Dimensions"]
            .as_array()
            .ok_or("a directive without Dimensions")?;
        for set in sets {
            let keys = set.as_array().ok_or("a dimension set is not an array")?;
            if keys.len() > 30 {
                return Err(format!("{} dimensions in one set (at most 30)", keys.len()));
            }
            for k in keys {
                let k = k.as_str().ok_or("a dimension key is not a string")?;
                if k.is_empty() || k.len() > 250 || k.starts_with(':') || !k.is_ascii() {
                    return Err(format!("invalid dimension name {k:?}"));
                }
                let value = root
                    .get(k)
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("dimension {k} is not a string member of the root"))?;
                if value.trim().is_empty() || value.len() > 1024 || !value.is_ascii() {
                    return Err(format!("invalid value of dimension {k}"));
                }
            }
        }
        let defs = d["Metrics"]
            .as_array()
            .ok_or("a directive without Metrics")?;
        metrics += defs.len();
        for m in defs {
            let name = m["Name"].as_str().ok_or("a metric without Name")?;
            if name.trim().is_empty() || name.len() > 1024 {
                return Err(format!("invalid metric name {name:?}"));
            }
            if let Some(unit) = m.get("Unit") {
                let unit = unit.as_str().ok_or("a Unit is not a string")?;
                if !UNITS.contains(&unit) {
                    return Err(format!("{name}: unknown unit {unit}"));
                }
            }
            match root.get(name) {
                Some(Value::Number(_)) => {}
                Some(Value::Array(values)) => {
                    if values.is_empty() || values.len() > 100 {
                        return Err(format!("{name}: {} values (1 to 100)", values.len()));
                    }
                    if !values.iter().all(Value::is_number) {
                        return Err(format!("{name}: a value is not a number"));
                    }
                }
                _ => return Err(format!("metric {name} has no numeric member at the root")),
            }
        }
    }
    if metrics > 100 {
        return Err(format!("{metrics} metrics in one object (at most 100)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_checker_refuses_what_the_specification_refuses() {
        let good = json!({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "a",
            "Dimensions": [["F"]], "Metrics": [{"Name": "M", "Unit": "Count"}]}]}, "F": "f", "M": 1});
        assert_eq!(check(&good), Ok(()));
        let mut v = good.clone();
        v["F"] = json!(3);
        assert!(check(&v).is_err(), "a dimension value must be a string");
        let mut v = good.clone();
        v["M"] = json!("1");
        assert!(check(&v).is_err(), "a metric value must be a number");
        let mut v = good.clone();
        v["M"] = json!((0..101).collect::<Vec<_>>());
        assert!(check(&v).is_err(), "at most 100 values");
        let mut v = good.clone();
        v["_aws"]["CloudWatchMetrics"][0]["Dimensions"] =
            json!([(0..31).map(|i| format!("D{i}")).collect::<Vec<_>>()]);
        assert!(check(&v).is_err(), "at most 30 dimensions per set");
        let mut v = good.clone();
        v["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("Requests");
        assert!(check(&v).is_err(), "a CloudWatch unit");
        let mut v = good.clone();
        v["_aws"]["CloudWatchMetrics"][0]["Namespace"] = json!("a b");
        assert!(check(&v).is_err(), "namespace characters");
        let mut v = good;
        v["_aws"]["CloudWatchMetrics"][0]["Metrics"] = json!(
            (0..101)
                .map(|i| json!({"Name": format!("M{i}")}))
                .collect::<Vec<_>>()
        );
        for i in 0..101 {
            v[format!("M{i}")] = json!(1);
        }
        assert!(check(&v).is_err(), "at most 100 metrics");
    }
}

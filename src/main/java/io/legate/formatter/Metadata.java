package io.legate.formatter;

import com.google.protobuf.ListValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.legate.config.JsonStrings;
import java.util.Map;

/** Reads and renders metadata values as Envoy's {@code DYNAMIC_METADATA} command does. */
final class Metadata {
  private Metadata() {}

  /**
   * Returns the value at {@code keys} under a namespace's struct (the whole struct when there are
   * no keys), or null when absent or when a key walks into a non-struct.
   */
  static Value lookup(Struct ns, String[] keys) {
    if (ns == null) {
      return null;
    }
    if (keys.length == 0) {
      return Value.newBuilder().setStructValue(ns).build();
    }
    Struct s = ns;
    Value v = null;
    for (int i = 0; i < keys.length; i++) {
      if (s == null) {
        return null;
      }
      v = s.getFieldsMap().get(keys[i]);
      if (v == null) {
        return null;
      }
      s = v.getKindCase() == Value.KindCase.STRUCT_VALUE ? v.getStructValue() : null;
    }
    return v;
  }

  /** Text form: a string value as is, anything else as compact JSON; null for null. */
  static String text(Value v) {
    if (v == null) {
      return null;
    }
    return v.getKindCase() == Value.KindCase.STRING_VALUE ? v.getStringValue() : json(v);
  }

  /** Compact JSON of a value, numbers as protobuf's C++ printer writes them (3, not 3.0). */
  static String json(Value v) {
    StringBuilder sb = new StringBuilder();
    append(sb, v);
    return sb.toString();
  }

  private static void append(StringBuilder sb, Value v) {
    switch (v.getKindCase()) {
      case STRING_VALUE -> JsonStrings.quote(sb, v.getStringValue());
      case BOOL_VALUE -> sb.append(v.getBoolValue());
      case NUMBER_VALUE -> number(sb, v.getNumberValue());
      case STRUCT_VALUE -> {
        sb.append('{');
        boolean first = true;
        for (Map.Entry<String, Value> e : v.getStructValue().getFieldsMap().entrySet()) {
          if (!first) {
            sb.append(',');
          }
          first = false;
          JsonStrings.quote(sb, e.getKey());
          sb.append(':');
          append(sb, e.getValue());
        }
        sb.append('}');
      }
      case LIST_VALUE -> {
        ListValue l = v.getListValue();
        sb.append('[');
        for (int i = 0; i < l.getValuesCount(); i++) {
          if (i > 0) {
            sb.append(',');
          }
          append(sb, l.getValues(i));
        }
        sb.append(']');
      }
      default -> sb.append("null");
    }
  }

  private static void number(StringBuilder sb, double d) {
    if (Double.isNaN(d) || Double.isInfinite(d)) {
      // Not representable in JSON; protobuf prints these as strings.
      JsonStrings.quote(sb, Double.isNaN(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");
    } else if (d == Math.rint(d) && Math.abs(d) < 1e15) {
      sb.append((long) d);
    } else {
      sb.append(d);
    }
  }
}

package io.legate.admin;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import java.util.Collection;
import java.util.Map;

/**
 * Prints protos as Envoy's admin does ({@code MessageUtil::getJsonStringFromMessage} with pretty
 * printing): proto field names, one space of indentation per level, {@code "key": value}, empty
 * objects and arrays as {@code {}} and {@code []}.
 */
final class ProtoJson {
  private ProtoJson() {}

  /** Returns a compact printer with proto field names; {@code alwaysPrint} adds default values. */
  static JsonFormat.Printer printer(JsonFormat.TypeRegistry registry, boolean alwaysPrint) {
    JsonFormat.Printer p = JsonFormat.printer().preservingProtoFieldNames()
        .omittingInsignificantWhitespace();
    if (registry != null) {
      p = p.usingTypeRegistry(registry);
    }
    return alwaysPrint ? p.alwaysPrintFieldsWithNoPresence() : p;
  }

  /** Returns {@code message} as JSON in Envoy's pretty layout. */
  static String print(MessageOrBuilder message, JsonFormat.TypeRegistry registry, boolean alwaysPrint)
      throws InvalidProtocolBufferException {
    return pretty(printer(registry, alwaysPrint).print(message));
  }

  /** Returns the compact JSON of {@code message} as an {@code Any} prints it: {@code @type} first. */
  static String typed(MessageOrBuilder message, JsonFormat.TypeRegistry registry)
      throws InvalidProtocolBufferException {
    String json = printer(registry, false).print(message);
    StringBuilder out = new StringBuilder(json.length() + 64);
    out.append("{\"@type\":");
    appendString(out, "type.googleapis.com/" + message.getDescriptorForType().getFullName());
    String rest = json.substring(1);
    if (!rest.equals("}")) {
      out.append(',');
    }
    return out.append(rest).toString();
  }

  /** Re-lays out compact JSON with one space of indentation per level. */
  static String pretty(String compact) {
    StringBuilder out = new StringBuilder(compact.length() * 2);
    int depth = 0;
    boolean inString = false;
    for (int i = 0; i < compact.length(); i++) {
      char c = compact.charAt(i);
      if (inString) {
        out.append(c);
        if (c == '\\') {
          out.append(compact.charAt(++i));
        } else if (c == '"') {
          inString = false;
        }
        continue;
      }
      switch (c) {
        case '"' -> {
          inString = true;
          out.append(c);
        }
        case '{', '[' -> {
          char close = c == '{' ? '}' : ']';
          int next = skipSpace(compact, i + 1);
          if (next < compact.length() && compact.charAt(next) == close) {
            out.append(c).append(close);
            i = next;
          } else {
            depth++;
            out.append(c);
            newline(out, depth);
          }
        }
        case '}', ']' -> {
          depth--;
          newline(out, depth);
          out.append(c);
        }
        case ',' -> {
          out.append(',');
          newline(out, depth);
        }
        case ':' -> out.append(": ");
        case ' ', '\n', '\r', '\t' -> { }
        default -> out.append(c);
      }
    }
    return out.toString();
  }

  private static int skipSpace(String s, int i) {
    while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
      i++;
    }
    return i;
  }

  private static void newline(StringBuilder out, int depth) {
    out.append('\n');
    for (int i = 0; i < depth; i++) {
      out.append(' ');
    }
  }

  /** Appends {@code value} (null, number, boolean, string, collection or map) as JSON. */
  static void appendValue(StringBuilder out, Object value) {
    if (value == null) {
      out.append("null");
    } else if (value instanceof Number || value instanceof Boolean) {
      out.append(value);
    } else if (value instanceof Collection<?> list) {
      out.append('[');
      boolean first = true;
      for (Object o : list) {
        if (!first) {
          out.append(',');
        }
        first = false;
        appendValue(out, o);
      }
      out.append(']');
    } else if (value instanceof Map<?, ?> map) {
      out.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : map.entrySet()) {
        if (!first) {
          out.append(',');
        }
        first = false;
        appendString(out, String.valueOf(e.getKey()));
        out.append(':');
        appendValue(out, e.getValue());
      }
      out.append('}');
    } else {
      appendString(out, value.toString());
    }
  }

  static void appendString(StringBuilder out, String s) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }
}

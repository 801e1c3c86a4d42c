package io.legate.config;

import java.io.StringReader;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;

/**
 * A JSON value tree read from YAML or JSON text, as Envoy reads YAML: anchors, aliases and merge keys
 * are resolved, entries whose key is tagged {@code !ignore} are dropped, duplicate keys are errors. Values are {@code Map<String, Object>} (objects, in
 * order), {@code List<Object>} (arrays), {@link String}, {@link Num}, {@link Bool} and null. Numbers and
 * booleans remember how YAML spelled them when YAML 1.1 read them as something other than what was
 * written ({@code on} for true, {@code 0755} for 493), so that errors can tell the user to quote them.
 */
final class JsonTree {
  /** A JSON number: its JSON text, and its YAML spelling when that differs (else null). */
  record Num(String text, String spelling) {
    BigDecimal decimal() {
      return new BigDecimal(text);
    }
  }

  /** A JSON boolean, with its YAML spelling when that is not {@code true}/{@code false} (else null). */
  record Bool(boolean value, String spelling) {}

  private JsonTree() {}

  /** Parses JSON text (strictly) into a tree. Throws ConfigException with the position of a syntax error. */
  static Object fromJson(String json) {
    return new JsonReader(json).document();
  }

  /** Parses YAML text (one document, YAML 1.1 as SnakeYAML reads it) into a tree; null for an empty one. */
  static Object fromYaml(String yaml) {
    LoaderOptions options = new LoaderOptions();
    options.setCodePointLimit(256 * 1024 * 1024);
    options.setMaxAliasesForCollections(1_000);
    Node node;
    try {
      node = new Yaml(options).compose(new StringReader(yaml));
    } catch (MarkedYAMLException e) {
      throw new ConfigException("invalid YAML: " + describe(e));
    } catch (YAMLException e) {
      throw new ConfigException("invalid YAML: " + e.getMessage());
    }
    return node == null ? null : new Converter().convert(node, 0);
  }

  /** Returns true if the text looks like JSON (its first non-blank character opens an object). */
  static boolean looksLikeJson(String text) {
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (!Character.isWhitespace(c)) {
        return c == '{';
      }
    }
    return false;
  }

  /** Writes a tree as JSON text. */
  static String toJson(Object value) {
    StringBuilder sb = new StringBuilder();
    write(value, sb);
    return sb.toString();
  }

  @SuppressWarnings("unchecked")
  private static void write(Object value, StringBuilder sb) {
    if (value == null) {
      sb.append("null");
    } else if (value instanceof String s) {
      writeString(s, sb);
    } else if (value instanceof Num n) {
      sb.append(n.text());
    } else if (value instanceof Bool b) {
      sb.append(b.value());
    } else if (value instanceof Map<?, ?> m) {
      sb.append('{');
      boolean first = true;
      for (Map.Entry<String, Object> e : ((Map<String, Object>) m).entrySet()) {
        if (!first) {
          sb.append(',');
        }
        first = false;
        writeString(e.getKey(), sb);
        sb.append(':');
        write(e.getValue(), sb);
      }
      sb.append('}');
    } else {
      sb.append('[');
      boolean first = true;
      for (Object item : (List<Object>) value) {
        if (!first) {
          sb.append(',');
        }
        first = false;
        write(item, sb);
      }
      sb.append(']');
    }
  }

  private static void writeString(String s, StringBuilder sb) {
    JsonStrings.quote(sb, s);
  }

  private static String describe(MarkedYAMLException e) {
    StringBuilder sb = new StringBuilder();
    if (e.getContext() != null) {
      sb.append(e.getContext()).append(' ');
    }
    sb.append(e.getProblem() == null ? "syntax error" : e.getProblem());
    Mark mark = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
    if (mark != null) {
      sb.append(" at line ").append(mark.getLine() + 1).append(", column ").append(mark.getColumn() + 1);
    }
    return sb.toString();
  }

  /** Converts a composed YAML node graph to the tree, resolving merge keys and anchors. */
  private static final class Converter {
    private static final int MAX_DEPTH = 200;
    /** Envoy drops mapping entries whose key is tagged {@code !ignore} (a place to keep YAML anchors). */
    private static final String IGNORE_TAG = "!ignore";

    /** Aliases are expanded by copying, so a budget of values guards against "billion laughs" documents. */
    private static final int MAX_VALUES = 5_000_000;
    private int values;

    Object convert(Node node, int depth) {
      if (depth > MAX_DEPTH) {
        throw new ConfigException("invalid YAML: nesting deeper than " + MAX_DEPTH + " levels" + at(node));
      }
      if (++values > MAX_VALUES) {
        throw new ConfigException("invalid YAML: the document expands to more than " + MAX_VALUES
            + " values (through aliases)" + at(node));
      }
      if (node instanceof ScalarNode scalar) {
        return scalar(scalar);
      }
      if (node instanceof SequenceNode sequence) {
        List<Object> list = new ArrayList<>(sequence.getValue().size());
        for (Node item : sequence.getValue()) {
          list.add(convert(item, depth + 1));
        }
        return list;
      }
      MappingNode mapping = (MappingNode) node;
      Map<String, Object> object = new LinkedHashMap<>();
      List<MappingNode> merges = new ArrayList<>();
      for (NodeTuple tuple : mapping.getValue()) {
        Node keyNode = tuple.getKeyNode();
        if (keyNode.getTag().getValue().equals(IGNORE_TAG)) {
          continue;
        }
        if (keyNode.getTag().equals(Tag.MERGE)) {
          collectMerges(tuple.getValueNode(), merges);
          continue;
        }
        String key = keyText(keyNode);
        if (object.containsKey(key)) {
          throw new ConfigException("invalid YAML: duplicate key '" + key + "'" + at(keyNode));
        }
        object.put(key, convert(tuple.getValueNode(), depth + 1));
      }
      for (MappingNode merged : merges) {
        @SuppressWarnings("unchecked")
        Map<String, Object> from = (Map<String, Object>) convert(merged, depth + 1);
        for (Map.Entry<String, Object> e : from.entrySet()) {
          object.putIfAbsent(e.getKey(), e.getValue());
        }
      }
      return object;
    }

    private static void collectMerges(Node value, List<MappingNode> merges) {
      if (value instanceof MappingNode m) {
        merges.add(m);
        return;
      }
      if (value instanceof SequenceNode s) {
        for (Node item : s.getValue()) {
          if (!(item instanceof MappingNode m)) {
            throw new ConfigException("invalid YAML: merge key '<<' needs a mapping or a list of mappings" + at(item));
          }
          merges.add(m);
        }
        return;
      }
      throw new ConfigException("invalid YAML: merge key '<<' needs a mapping or a list of mappings" + at(value));
    }

    private static String keyText(Node keyNode) {
      if (keyNode instanceof ScalarNode s) {
        return s.getValue();
      }
      throw new ConfigException("invalid YAML: mapping keys must be scalars" + at(keyNode));
    }

    private static Object scalar(ScalarNode node) {
      String text = node.getValue();
      Tag tag = node.getTag();
      if (tag.equals(Tag.NULL)) {
        return null;
      }
      if (tag.equals(Tag.BOOL)) {
        boolean value = switch (text.toLowerCase(java.util.Locale.ROOT)) {
          case "true", "yes", "y", "on" -> true;
          default -> false;
        };
        return new Bool(value, text.equals(String.valueOf(value)) ? null : text);
      }
      if (tag.equals(Tag.INT)) {
        String canonical = parseInt(text).toString();
        return new Num(canonical, text.equals(canonical) ? null : text);
      }
      if (tag.equals(Tag.FLOAT)) {
        return parseFloat(text);
      }
      return text;
    }

    /** Reads a YAML 1.1 integer: decimal, 0b binary, 0 octal, 0x hex, underscores, base 60. */
    static BigInteger parseInt(String text) {
      String s = text.replace("_", "");
      boolean negative = s.startsWith("-");
      if (negative || s.startsWith("+")) {
        s = s.substring(1);
      }
      BigInteger v;
      if (s.equals("0")) {
        v = BigInteger.ZERO;
      } else if (s.startsWith("0b")) {
        v = new BigInteger(s.substring(2), 2);
      } else if (s.startsWith("0x")) {
        v = new BigInteger(s.substring(2), 16);
      } else if (s.startsWith("0")) {
        v = new BigInteger(s.substring(1), 8);
      } else if (s.contains(":")) {
        v = BigInteger.ZERO;
        for (String digit : s.split(":")) {
          v = v.multiply(BigInteger.valueOf(60)).add(new BigInteger(digit));
        }
      } else {
        v = new BigInteger(s);
      }
      return negative ? v.negate() : v;
    }

    /** Reads a YAML 1.1 float; infinities and NaN become the strings JSON uses for them. */
    private static Object parseFloat(String text) {
      String s = text.replace("_", "");
      String lower = s.toLowerCase(java.util.Locale.ROOT);
      if (lower.endsWith(".inf")) {
        return lower.startsWith("-") ? "-Infinity" : "Infinity";
      }
      if (lower.equals(".nan")) {
        return "NaN";
      }
      boolean negative = s.startsWith("-");
      String body = negative || s.startsWith("+") ? s.substring(1) : s;
      BigDecimal v;
      if (body.contains(":")) {
        v = BigDecimal.ZERO;
        for (String part : body.split(":")) {
          v = v.multiply(BigDecimal.valueOf(60)).add(new BigDecimal(part.endsWith(".") ? part + "0" : part));
        }
      } else {
        if (body.startsWith(".")) {
          body = "0" + body;
        }
        int e = body.toLowerCase(java.util.Locale.ROOT).indexOf('e');
        String mantissa = e < 0 ? body : body.substring(0, e);
        if (mantissa.endsWith(".")) {
          body = mantissa + "0" + (e < 0 ? "" : body.substring(e));
        }
        v = new BigDecimal(body);
      }
      String json = (negative ? v.negate() : v).toString();
      return new Num(json, text.equals(json) ? null : text);
    }

    private static String at(Node node) {
      Mark mark = node.getStartMark();
      return mark == null ? "" : " at line " + (mark.getLine() + 1) + ", column " + (mark.getColumn() + 1);
    }
  }

  /** A strict JSON reader (RFC 8259) producing the tree, with line and column in its errors. */
  private static final class JsonReader {
    private static final int MAX_DEPTH = 200;
    private final String s;
    private int pos;

    JsonReader(String s) {
      this.s = s;
    }

    Object document() {
      skipWhitespace();
      if (pos == s.length()) {
        return null;
      }
      Object value = value(0);
      skipWhitespace();
      if (pos != s.length()) {
        throw error("unexpected text after the end of the document");
      }
      return value;
    }

    private Object value(int depth) {
      if (depth > MAX_DEPTH) {
        throw error("nesting deeper than " + MAX_DEPTH + " levels");
      }
      skipWhitespace();
      if (pos == s.length()) {
        throw error("unexpected end of input");
      }
      char c = s.charAt(pos);
      switch (c) {
        case '{' -> {
          pos++;
          Map<String, Object> object = new LinkedHashMap<>();
          skipWhitespace();
          if (peek() == '}') {
            pos++;
            return object;
          }
          while (true) {
            skipWhitespace();
            if (peek() != '"') {
              throw error("expected a field name in double quotes");
            }
            int keyPos = pos;
            String key = string();
            skipWhitespace();
            expect(':');
            if (object.containsKey(key)) {
              pos = keyPos;
              throw error("duplicate key '" + key + "'");
            }
            object.put(key, value(depth + 1));
            skipWhitespace();
            if (peek() == ',') {
              pos++;
            } else {
              expect('}');
              return object;
            }
          }
        }
        case '[' -> {
          pos++;
          List<Object> list = new ArrayList<>();
          skipWhitespace();
          if (peek() == ']') {
            pos++;
            return list;
          }
          while (true) {
            list.add(value(depth + 1));
            skipWhitespace();
            if (peek() == ',') {
              pos++;
            } else {
              expect(']');
              return list;
            }
          }
        }
        case '"' -> {
          return string();
        }
        default -> {
          if (s.startsWith("true", pos)) {
            pos += 4;
            return new Bool(true, null);
          }
          if (s.startsWith("false", pos)) {
            pos += 5;
            return new Bool(false, null);
          }
          if (s.startsWith("null", pos)) {
            pos += 4;
            return null;
          }
          return number();
        }
      }
    }

    private Num number() {
      int start = pos;
      if (peek() == '-') {
        pos++;
      }
      while (pos < s.length() && "0123456789.eE+-".indexOf(s.charAt(pos)) >= 0) {
        pos++;
      }
      String text = s.substring(start, pos);
      if (text.isEmpty() || !text.matches("-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][-+]?[0-9]+)?")) {
        pos = start;
        throw error("invalid value");
      }
      return new Num(text, null);
    }

    private String string() {
      pos++;
      StringBuilder sb = new StringBuilder();
      while (true) {
        if (pos >= s.length()) {
          throw error("unterminated string");
        }
        char c = s.charAt(pos++);
        if (c == '"') {
          return sb.toString();
        }
        if (c < 0x20) {
          pos--;
          throw error("control character in string");
        }
        if (c != '\\') {
          sb.append(c);
          continue;
        }
        if (pos >= s.length()) {
          throw error("unterminated string");
        }
        char e = s.charAt(pos++);
        switch (e) {
          case '"', '\\', '/' -> sb.append(e);
          case 'b' -> sb.append('\b');
          case 'f' -> sb.append('\f');
          case 'n' -> sb.append('\n');
          case 'r' -> sb.append('\r');
          case 't' -> sb.append('\t');
          case 'u' -> {
            if (pos + 4 > s.length()) {
              throw error("invalid \\u escape");
            }
            try {
              sb.append((char) Integer.parseInt(s.substring(pos, pos + 4), 16));
            } catch (NumberFormatException ex) {
              throw error("invalid \\u escape");
            }
            pos += 4;
          }
          default -> {
            pos -= 2;
            throw error("invalid escape '\\" + e + "'");
          }
        }
      }
    }

    private char peek() {
      return pos < s.length() ? s.charAt(pos) : '\0';
    }

    private void expect(char c) {
      if (peek() != c) {
        throw error(pos >= s.length() ? "unexpected end of input, expected '" + c + "'" : "expected '" + c + "'");
      }
      pos++;
    }

    private void skipWhitespace() {
      while (pos < s.length()) {
        char c = s.charAt(pos);
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
          return;
        }
        pos++;
      }
    }

    private ConfigException error(String problem) {
      int line = 1;
      int column = 1;
      for (int i = 0; i < pos && i < s.length(); i++) {
        if (s.charAt(i) == '\n') {
          line++;
          column = 1;
        } else {
          column++;
        }
      }
      return new ConfigException("invalid JSON: " + problem + " at line " + line + ", column " + column);
    }
  }
}

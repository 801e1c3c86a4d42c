package io.legate.config;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumDescriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.OneofDescriptor;
import com.google.protobuf.Message;
import com.google.protobuf.util.Durations;
import com.google.protobuf.util.Timestamps;
import io.legate.config.JsonTree.Bool;
import io.legate.config.JsonTree.Num;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.text.ParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.StringJoiner;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Walks a JSON tree (see {@link JsonTree}) alongside a message descriptor before {@code JsonFormat} sees
 * it, and reports the first problem with its field path: unknown fields, JSON values of the wrong kind,
 * unknown enum values, unknown {@code @type} URLs, malformed durations, oneof conflicts and YAML 1.1
 * surprises. It also turns plain numbers given for string fields into strings (as Envoy's YAML loader
 * does) and collects the message types found in {@code Any}s so that they can be registered.
 */
final class JsonChecker {
  private static final String ANY = "google.protobuf.Any";
  private static final String DURATION = "google.protobuf.Duration";
  private static final String TIMESTAMP = "google.protobuf.Timestamp";
  private static final String FIELD_MASK = "google.protobuf.FieldMask";
  private static final String STRUCT = "google.protobuf.Struct";
  private static final String VALUE = "google.protobuf.Value";
  private static final String LIST_VALUE = "google.protobuf.ListValue";
  private static final String NULL_VALUE = "google.protobuf.NullValue";
  private static final Set<String> WRAPPERS = Set.of(
      "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value",
      "google.protobuf.UInt64Value", "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
      "google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue");
  private static final BigInteger UINT64_MAX = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);
  private static final String DURATION_FORMAT =
      "Envoy durations are a number of seconds with an 's' suffix, e.g. \"5s\" or \"0.25s\"";

  private static final ConcurrentHashMap<Descriptor, Map<String, FieldDescriptor>> FIELDS = new ConcurrentHashMap<>();

  private final boolean yaml;
  private final TypeResolver resolver;
  private final Set<Descriptor> anyTypes = new HashSet<>();

  JsonChecker(boolean yaml, TypeResolver resolver) {
    this.yaml = yaml;
    this.resolver = resolver;
  }

  /** Returns the message types named by the {@code @type} of the Anys walked so far. */
  Set<Descriptor> anyTypes() {
    return anyTypes;
  }

  /** Checks that a value can be parsed as a message of the given type. Throws ConfigException. */
  void checkRoot(Object value, Descriptor type, FieldPath path) {
    checkMessageValue(value, type, path);
  }

  /** Returns the fields of a message by proto name and by JSON name. */
  static Map<String, FieldDescriptor> fieldsOf(Descriptor type) {
    Map<String, FieldDescriptor> fields = FIELDS.get(type);
    if (fields == null) {
      Map<String, FieldDescriptor> m = new HashMap<>();
      for (FieldDescriptor fd : type.getFields()) {
        m.put(fd.getName(), fd);
        m.putIfAbsent(fd.getJsonName(), fd);
      }
      fields = Map.copyOf(m);
      FIELDS.putIfAbsent(type, fields);
    }
    return fields;
  }

  /** Returns true if the type has a special JSON form (not an object of its fields). */
  static boolean hasSpecialJson(Descriptor type) {
    String n = type.getFullName();
    return n.equals(ANY) || n.equals(DURATION) || n.equals(TIMESTAMP) || n.equals(FIELD_MASK) || n.equals(STRUCT)
        || n.equals(VALUE) || n.equals(LIST_VALUE) || WRAPPERS.contains(n);
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> asObject(Object value) {
    return (Map<String, Object>) value;
  }

  @SuppressWarnings("unchecked")
  static List<Object> asList(Object value) {
    return (List<Object>) value;
  }

  /** Checks a value for a message-typed field; returns the value to use instead (usually the same). */
  private Object checkMessageValue(Object el, Descriptor type, FieldPath path) {
    String name = type.getFullName();
    switch (name) {
      case ANY -> {
        checkAny(el, path);
        return el;
      }
      case DURATION -> {
        if (el instanceof Map) {
          return durationObject(asObject(el), path);
        }
        checkDuration(el, path);
        return el;
      }
      case TIMESTAMP -> {
        if (!(el instanceof String s)) {
          throw new ConfigException(path.toString(), "expected a timestamp string (RFC 3339, e.g. \"2024-01-01T00:00:00Z\"), got " + describe(el));
        }
        try {
          Timestamps.parse(s);
        } catch (ParseException e) {
          throw new ConfigException(path.toString(), "invalid timestamp '" + s + "': expected RFC 3339, e.g. \"2024-01-01T00:00:00Z\"");
        }
        return el;
      }
      case FIELD_MASK -> {
        if (!(el instanceof String)) {
          throw new ConfigException(path.toString(), "expected a field mask string (comma-separated paths), got " + describe(el));
        }
        return el;
      }
      case STRUCT -> {
        if (!(el instanceof Map)) {
          throw new ConfigException(path.toString(), "expected an object (google.protobuf.Struct), got " + describe(el));
        }
        return el;
      }
      case VALUE -> {
        return el;
      }
      case LIST_VALUE -> {
        if (!(el instanceof List)) {
          throw new ConfigException(path.toString(), "expected a list (google.protobuf.ListValue), got " + describe(el));
        }
        return el;
      }
      default -> {
        if (WRAPPERS.contains(name)) {
          if (el instanceof Map<?, ?> m && m.size() == 1 && m.containsKey("value")) {
            // the object form {value: x}, which Envoy's parser also accepts
            return checkSingular(m.get("value"), type.findFieldByName("value"), path.field("value"));
          }
          return checkSingular(el, type.findFieldByName("value"), path);
        }
      }
    }
    if (!(el instanceof Map)) {
      throw new ConfigException(path.toString(), "expected an object (" + name + "), got " + describe(el));
    }
    checkFields(asObject(el), type, path, false);
    return el;
  }

  private void checkFields(Map<String, Object> object, Descriptor type, FieldPath path, boolean skipType) {
    Map<String, FieldDescriptor> fields = fieldsOf(type);
    Map<FieldDescriptor, String> seen = null;
    Map<OneofDescriptor, String> oneofs = null;
    for (Map.Entry<String, Object> entry : object.entrySet()) {
      String key = entry.getKey();
      if (skipType && key.equals("@type")) {
        continue;
      }
      FieldDescriptor fd = fields.get(key);
      if (fd == null) {
        throw new ConfigException(path.field(key).toString(), "unknown field \"" + key + "\" in " + type.getFullName());
      }
      if (seen == null) {
        seen = new HashMap<>();
      }
      String before = seen.putIfAbsent(fd, key);
      if (before != null) {
        throw new ConfigException(path.field(key).toString(), "field \"" + fd.getName() + "\" is given twice (as \""
            + before + "\" and \"" + key + "\")");
      }
      Object value = entry.getValue();
      if (value == null) {
        continue;
      }
      OneofDescriptor oneof = fd.getRealContainingOneof();
      if (oneof != null) {
        if (oneofs == null) {
          oneofs = new HashMap<>();
        }
        String other = oneofs.putIfAbsent(oneof, key);
        if (other != null) {
          throw new ConfigException(path.toString(), "fields \"" + other + "\" and \"" + key + "\" are both set, but they"
              + " belong to oneof \"" + oneof.getName() + "\" of " + type.getFullName() + " and only one may be set");
        }
      }
      Object replaced = checkField(value, fd, path.field(key));
      if (replaced != value) {
        entry.setValue(replaced);
      }
    }
  }

  private Object checkField(Object el, FieldDescriptor fd, FieldPath path) {
    if (fd.isMapField()) {
      if (!(el instanceof Map)) {
        throw new ConfigException(path.toString(), "expected an object (a map), got " + describe(el));
      }
      FieldDescriptor keyField = fd.getMessageType().findFieldByName("key");
      FieldDescriptor valueField = fd.getMessageType().findFieldByName("value");
      for (Map.Entry<String, Object> entry : asObject(el).entrySet()) {
        FieldPath entryPath = path.key(entry.getKey());
        checkMapKey(entry.getKey(), keyField, entryPath);
        Object value = entry.getValue();
        if (value == null && !isNullable(valueField)) {
          throw new ConfigException(entryPath.toString(), "map values cannot be null");
        }
        Object replaced = checkSingular(value, valueField, entryPath);
        if (replaced != value) {
          entry.setValue(replaced);
        }
      }
      return el;
    }
    if (fd.isRepeated()) {
      if (!(el instanceof List)) {
        throw new ConfigException(path.toString(), "expected a list, got " + describe(el));
      }
      List<Object> list = asList(el);
      for (int i = 0; i < list.size(); i++) {
        Object item = list.get(i);
        if (item == null && !isNullable(fd)) {
          throw new ConfigException(path.index(i).toString(), "list elements cannot be null");
        }
        Object replaced = checkSingular(item, fd, path.index(i));
        if (replaced != item) {
          list.set(i, replaced);
        }
      }
      return el;
    }
    return checkSingular(el, fd, path);
  }

  private static boolean isNullable(FieldDescriptor fd) {
    return fd.getJavaType() == FieldDescriptor.JavaType.MESSAGE && fd.getMessageType().getFullName().equals(VALUE)
        || fd.getJavaType() == FieldDescriptor.JavaType.ENUM && fd.getEnumType().getFullName().equals(NULL_VALUE);
  }

  private static void checkMapKey(String key, FieldDescriptor keyField, FieldPath path) {
    switch (keyField.getJavaType()) {
      case BOOLEAN -> {
        if (!key.equals("true") && !key.equals("false")) {
          throw new ConfigException(path.toString(), "map key must be true or false, got '" + key + "'");
        }
      }
      case INT, LONG -> checkInteger(key, keyField, path);
      default -> { }
    }
  }

  private Object checkSingular(Object el, FieldDescriptor fd, FieldPath path) {
    if (el == null) {
      return null;
    }
    switch (fd.getJavaType()) {
      case MESSAGE:
        return checkMessageValue(el, fd.getMessageType(), path);
      case ENUM:
        return checkEnum(el, fd.getEnumType(), path);
      case STRING:
        return checkString(el, path);
      case BYTE_STRING:
        if (!(el instanceof String s)) {
          throw new ConfigException(path.toString(), "expected a base64 string (bytes), got " + describe(el));
        }
        checkBase64(s, path);
        return el;
      case BOOLEAN:
        if (el instanceof Bool || "true".equals(el) || "false".equals(el)) {
          return el;
        }
        throw new ConfigException(path.toString(), "expected a boolean (true or false), got " + describe(el));
      case INT:
      case LONG:
        if (el instanceof Num n) {
          checkInteger(n.text(), fd, path);
          return el;
        }
        if (el instanceof String s) {
          checkInteger(s, fd, path);
          return el;
        }
        throw new ConfigException(path.toString(), "expected an integer (" + typeName(fd) + "), got " + describe(el));
      case FLOAT:
      case DOUBLE:
        if (el instanceof Num) {
          return el;
        }
        if (el instanceof String s) {
          if (s.equals("NaN") || s.equals("Infinity") || s.equals("-Infinity")) {
            return el;
          }
          try {
            new BigDecimal(s);
            return el;
          } catch (NumberFormatException e) {
            // reported below
          }
        }
        throw new ConfigException(path.toString(), "expected a number (" + typeName(fd) + "), got " + describe(el));
      default:
        throw new IllegalStateException("unexpected field type " + fd.getJavaType());
    }
  }

  private Object checkString(Object el, FieldPath path) {
    if (el instanceof String) {
      return el;
    }
    if (el instanceof Bool b) {
      if (yaml) {
        String text = b.spelling() != null ? b.spelling() : String.valueOf(b.value());
        throw new ConfigException(path.toString(), "expected a string, but YAML read " + text + " as a boolean ("
            + b.value() + "); quote the value (\"" + text + "\") if it is meant as a string");
      }
      throw new ConfigException(path.toString(), "expected a string, got " + describe(el));
    }
    if (el instanceof Num n) {
      if (n.spelling() != null) {
        throw new ConfigException(path.toString(), "expected a string, but YAML read " + n.spelling() + " as the number "
            + n.text() + "; quote the value (\"" + n.spelling() + "\") if it is meant as a string");
      }
      return n.text();
    }
    throw new ConfigException(path.toString(), "expected a string, got " + describe(el));
  }

  /** Checks an enum value; a name in another case is replaced by the defined name, as Envoy parses enums. */
  private static Object checkEnum(Object el, EnumDescriptor type, FieldPath path) {
    if (el instanceof String name) {
      if (type.findValueByName(name) != null) {
        return el;
      }
      EnumValueDescriptor upper = type.findValueByName(name.toUpperCase(java.util.Locale.ROOT));
      if (upper != null) {
        return upper.getName();
      }
      throw new ConfigException(path.toString(), "unknown value \"" + name + "\" for enum " + type.getFullName()
          + "; valid values: " + validNames(type));
    }
    if (el instanceof Num n) {
      try {
        int number = n.decimal().intValueExact();
        if (type.findValueByNumber(number) != null || !type.isClosed()) {
          return el;
        }
      } catch (ArithmeticException e) {
        // reported below
      }
      throw new ConfigException(path.toString(), "unknown value " + n.text() + " for enum " + type.getFullName()
          + "; valid values: " + validNames(type));
    }
    throw new ConfigException(path.toString(), "expected an enum value name (" + type.getFullName() + ": "
        + validNames(type) + "), got " + describe(el));
  }

  private static String validNames(EnumDescriptor type) {
    StringJoiner joiner = new StringJoiner(", ");
    for (EnumValueDescriptor v : type.getValues()) {
      joiner.add(v.getName());
    }
    return joiner.toString();
  }

  private static void checkInteger(String text, FieldDescriptor fd, FieldPath path) {
    BigInteger value;
    try {
      value = new BigDecimal(text).toBigIntegerExact();
    } catch (NumberFormatException | ArithmeticException e) {
      throw new ConfigException(path.toString(), "expected an integer (" + typeName(fd) + "), got '" + text + "'");
    }
    BigInteger min;
    BigInteger max;
    switch (fd.getType()) {
      case INT32, SINT32, SFIXED32 -> {
        min = BigInteger.valueOf(Integer.MIN_VALUE);
        max = BigInteger.valueOf(Integer.MAX_VALUE);
      }
      case UINT32, FIXED32 -> {
        min = BigInteger.ZERO;
        max = BigInteger.valueOf(0xFFFF_FFFFL);
      }
      case UINT64, FIXED64 -> {
        min = BigInteger.ZERO;
        max = UINT64_MAX;
      }
      default -> {
        min = BigInteger.valueOf(Long.MIN_VALUE);
        max = BigInteger.valueOf(Long.MAX_VALUE);
      }
    }
    if (value.compareTo(min) < 0 || value.compareTo(max) > 0) {
      throw new ConfigException(path.toString(), "value " + value + " is out of range for " + typeName(fd)
          + " [" + min + ", " + max + "]");
    }
  }

  private static String typeName(FieldDescriptor fd) {
    return fd.getType().name().toLowerCase(java.util.Locale.ROOT);
  }

  private static void checkBase64(String s, FieldPath path) {
    try {
      Base64.getDecoder().decode(s);
    } catch (IllegalArgumentException e) {
      try {
        Base64.getUrlDecoder().decode(s);
      } catch (IllegalArgumentException e2) {
        throw new ConfigException(path.toString(), "invalid base64 for a bytes field: " + e.getMessage());
      }
    }
  }

  /**
   * Converts the object form of a Duration ({@code {seconds: 2, nanos: 500}}), which Envoy's parser
   * accepts, to the string form JsonFormat reads.
   */
  private static String durationObject(Map<String, Object> object, FieldPath path) {
    long seconds = 0;
    int nanos = 0;
    for (Map.Entry<String, Object> e : object.entrySet()) {
      Object v = e.getValue();
      String text = v instanceof Num n ? n.text() : v instanceof String s ? s : null;
      try {
        switch (e.getKey()) {
          case "seconds" -> seconds = new BigDecimal(text).longValueExact();
          case "nanos" -> nanos = new BigDecimal(text).intValueExact();
          default -> throw new ConfigException(path.field(e.getKey()).toString(), "unknown field \"" + e.getKey()
              + "\" in google.protobuf.Duration (give a duration as \"5s\" or as {seconds: 5, nanos: 0})");
        }
      } catch (NullPointerException | NumberFormatException | ArithmeticException ex) {
        throw new ConfigException(path.field(e.getKey()).toString(), "expected an integer, got " + describe(v));
      }
    }
    try {
      return Durations.toString(com.google.protobuf.Duration.newBuilder().setSeconds(seconds).setNanos(nanos).build());
    } catch (IllegalArgumentException ex) {
      throw new ConfigException(path.toString(), "invalid duration: " + ex.getMessage());
    }
  }

  private static void checkDuration(Object el, FieldPath path) {
    if (el instanceof String s) {
      if (s.endsWith("s")) {
        try {
          Durations.parse(s);
          return;
        } catch (ParseException | IllegalArgumentException e) {
          // reported below
        }
      }
      throw new ConfigException(path.toString(), "invalid duration '" + s + "': " + DURATION_FORMAT);
    }
    if (el instanceof Num n) {
      String text = n.spelling() != null ? n.spelling() : n.text();
      throw new ConfigException(path.toString(), "invalid duration " + text + " (a number): " + DURATION_FORMAT);
    }
    throw new ConfigException(path.toString(), "expected a duration, got " + describe(el) + ": " + DURATION_FORMAT);
  }

  private void checkAny(Object el, FieldPath path) {
    if (!(el instanceof Map)) {
      throw new ConfigException(path.toString(), "expected an object with '@type' (google.protobuf.Any), got " + describe(el));
    }
    Map<String, Object> object = asObject(el);
    if (object.isEmpty()) {
      return;
    }
    Object typeElement = object.get("@type");
    if (typeElement == null) {
      throw new ConfigException(path.toString(), "'@type' is missing: an Any with fields needs"
          + " '@type: type.googleapis.com/<message type>'");
    }
    if (!(typeElement instanceof String url)) {
      throw new ConfigException(path.field("@type").toString(), "expected a type URL string, got " + describe(typeElement));
    }
    if (url.indexOf('/') < 0) {
      throw new ConfigException(path.toString(), "invalid type URL '" + url + "': expected 'type.googleapis.com/<message type>'");
    }
    Message instance = resolver.resolveUrl(url).orElseThrow(
        () -> new ConfigException(path.toString(), "unknown type URL '" + url + "'"));
    Descriptor type = instance.getDescriptorForType();
    anyTypes.add(type);
    if (hasSpecialJson(type)) {
      for (String key : object.keySet()) {
        if (!key.equals("@type") && !key.equals("value")) {
          throw new ConfigException(path.field(key).toString(), "unknown field \"" + key
              + "\": an Any holding " + type.getFullName() + " takes only '@type' and 'value'");
        }
      }
      if (!object.containsKey("value")) {
        throw new ConfigException(path.toString(), "'value' is missing for an Any holding " + type.getFullName());
      }
      Object value = object.get("value");
      Object replaced = checkMessageValue(value, type, path.field("value"));
      if (replaced != value) {
        object.put("value", replaced);
      }
      return;
    }
    checkFields(object, type, path, true);
  }

  /** Describes a JSON value for an error message: "an object", "a list", "the string 'x'", … */
  static String describe(Object el) {
    if (el instanceof Map) {
      return "an object";
    }
    if (el instanceof List) {
      return "a list";
    }
    if (el == null) {
      return "null";
    }
    if (el instanceof Bool b) {
      return "the boolean " + (b.spelling() != null ? b.spelling() : b.value());
    }
    if (el instanceof Num n) {
      return "the number " + (n.spelling() != null ? n.spelling() : n.text());
    }
    String s = (String) el;
    return "the string '" + (s.length() > 60 ? s.substring(0, 57) + "..." : s) + "'";
  }

  /** A message-typed value inside an object, with its path and type, for locating a JsonFormat error. */
  record Child(FieldPath path, Object value, Descriptor type) {}

  /** Lists the message-typed children of an object of the given type. */
  static List<Child> children(Map<String, Object> object, Descriptor type, FieldPath path) {
    List<Child> out = new ArrayList<>();
    Map<String, FieldDescriptor> fields = fieldsOf(type);
    for (Map.Entry<String, Object> entry : object.entrySet()) {
      FieldDescriptor fd = fields.get(entry.getKey());
      if (fd == null || fd.getJavaType() != FieldDescriptor.JavaType.MESSAGE) {
        continue;
      }
      FieldPath fp = path.field(entry.getKey());
      Object v = entry.getValue();
      if (fd.isMapField()) {
        FieldDescriptor valueField = fd.getMessageType().findFieldByName("value");
        if (valueField.getJavaType() == FieldDescriptor.JavaType.MESSAGE && v instanceof Map) {
          for (Map.Entry<String, Object> e : asObject(v).entrySet()) {
            out.add(new Child(fp.key(e.getKey()), e.getValue(), valueField.getMessageType()));
          }
        }
      } else if (fd.isRepeated()) {
        if (v instanceof List) {
          List<Object> list = asList(v);
          for (int i = 0; i < list.size(); i++) {
            out.add(new Child(fp.index(i), list.get(i), fd.getMessageType()));
          }
        }
      } else {
        out.add(new Child(fp, v, fd.getMessageType()));
      }
    }
    return out;
  }
}

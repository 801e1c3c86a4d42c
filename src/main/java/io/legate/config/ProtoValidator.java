package io.legate.config;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.OneofDescriptor;
import com.google.protobuf.Duration;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.Durations;
import io.envoyproxy.pgv.validate.Validate;
import io.envoyproxy.pgv.validate.Validate.FieldRules;
import java.math.BigDecimal;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.StringJoiner;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Enforces Envoy's protoc-gen-validate rules ({@code (validate.rules)} field options, {@code
 * (validate.required)} oneofs) on a parsed message, recursively, including messages packed in
 * {@code Any}s whose type is known. The rules are read from the descriptors of the generated API
 * classes. Messages read like Envoy's: {@code static_resources.clusters[0].name: value length must be
 * at least 1 characters}.
 *
 * <p>Supported: string and bytes lengths, const, prefix, suffix, contains, in/not_in, pattern, and the
 * well-known formats (hostname, ip, ipv4, ipv6, address, uri, uuid, HTTP header name/value); numeric
 * const, lt, lte, gt, gte, in, not_in; enum const, defined_only, in, not_in; message required and skip;
 * repeated min_items, max_items, unique, items; map min_pairs, max_pairs, keys, values; duration
 * required, const, lt, lte, gt, gte; any required, in, not_in; required oneofs.
 */
public final class ProtoValidator {
  private static final ConcurrentHashMap<Descriptor, Plan> PLANS = new ConcurrentHashMap<>();
  private static final ConcurrentHashMap<Descriptor, Boolean> NEEDS_VISIT = new ConcurrentHashMap<>();
  private static final ConcurrentHashMap<String, Optional<Pattern>> PATTERNS = new ConcurrentHashMap<>();
  private static final Pattern HEADER_NAME_STRICT = Pattern.compile("^:?[0-9a-zA-Z!#$%&'*+\\-.^_|~`]+$");
  private static final Pattern HEADER_VALUE_STRICT = Pattern.compile("^[^\\x00-\\x08\\x0A-\\x1F\\x7F]*$");
  private static final Pattern HEADER_LOOSE = Pattern.compile("^[^\\x00\\n\\r]*$");
  private static final Pattern HOSTNAME_LABEL = Pattern.compile("^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$");
  private static final Pattern UUID = Pattern.compile(
      "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");

  private ProtoValidator() {}

  /**
   * Checks a message and everything it contains against its validation rules. path is the prefix of
   * reported field paths (empty for a root message). Throws ConfigException at the first violation.
   */
  public static void validate(Message message, String path) {
    validate(message, FieldPath.of(path));
  }

  private record FieldPlan(FieldDescriptor field, FieldRules rules, boolean recurse) {}

  private record Plan(boolean disabled, List<OneofDescriptor> requiredOneofs, List<FieldPlan> fields) {}

  private static Plan planFor(Descriptor type) {
    Plan plan = PLANS.get(type);
    if (plan != null) {
      return plan;
    }
    boolean disabled = type.getOptions().getExtension(Validate.disabled) || type.getOptions().getExtension(Validate.ignored);
    List<OneofDescriptor> oneofs = new ArrayList<>();
    for (OneofDescriptor o : type.getRealOneofs()) {
      if (o.getOptions().getExtension(Validate.required)) {
        oneofs.add(o);
      }
    }
    List<FieldPlan> fields = new ArrayList<>();
    for (FieldDescriptor fd : type.getFields()) {
      FieldRules rules = fd.getOptions().hasExtension(Validate.rules) ? fd.getOptions().getExtension(Validate.rules) : null;
      boolean skip = rules != null && rules.hasMessage() && rules.getMessage().getSkip();
      boolean recurse = !skip && fd.getJavaType() == FieldDescriptor.JavaType.MESSAGE && needsVisit(elementType(fd));
      if (rules != null || recurse) {
        fields.add(new FieldPlan(fd, rules, recurse));
      }
    }
    plan = new Plan(disabled, List.copyOf(oneofs), List.copyOf(fields));
    PLANS.putIfAbsent(type, plan);
    return plan;
  }

  /** Returns the message type of a message field or of a map field's values, or null. */
  private static Descriptor elementType(FieldDescriptor fd) {
    if (fd.isMapField()) {
      FieldDescriptor value = fd.getMessageType().findFieldByName("value");
      return value.getJavaType() == FieldDescriptor.JavaType.MESSAGE ? value.getMessageType() : null;
    }
    return fd.getMessageType();
  }

  /**
   * Returns true if a message of this type, or anything it can contain, carries a rule (an Any always
   * may). Subtrees without rules are not walked.
   */
  private static boolean needsVisit(Descriptor type) {
    if (type == null) {
      return false;
    }
    Boolean known = NEEDS_VISIT.get(type);
    if (known != null) {
      return known;
    }
    boolean result = needsVisit(type, new HashSet<>());
    NEEDS_VISIT.putIfAbsent(type, result);
    return result;
  }

  private static boolean needsVisit(Descriptor type, Set<Descriptor> visiting) {
    Boolean known = NEEDS_VISIT.get(type);
    if (known != null) {
      return known;
    }
    if (!visiting.add(type)) {
      return false;
    }
    boolean result = type.getFullName().equals("google.protobuf.Any");
    for (OneofDescriptor o : type.getRealOneofs()) {
      result |= o.getOptions().getExtension(Validate.required);
    }
    for (FieldDescriptor fd : type.getFields()) {
      if (result) {
        break;
      }
      if (fd.getOptions().hasExtension(Validate.rules)) {
        result = true;
      } else if (fd.getJavaType() == FieldDescriptor.JavaType.MESSAGE) {
        Descriptor child = elementType(fd);
        result = child != null && needsVisit(child, visiting);
      }
    }
    if (result) {
      NEEDS_VISIT.putIfAbsent(type, true);
    }
    return result;
  }

  private static void validate(Message message, FieldPath path) {
    Plan plan = planFor(message.getDescriptorForType());
    if (plan.disabled()) {
      return;
    }
    for (OneofDescriptor oneof : plan.requiredOneofs()) {
      if (!message.hasOneof(oneof)) {
        StringJoiner names = new StringJoiner(", ");
        oneof.getFields().forEach(f -> names.add(f.getName()));
        throw new ConfigException(path.field(oneof.getName()).toString(), "value is required (set one of: " + names + ")");
      }
    }
    for (FieldPlan fp : plan.fields()) {
      FieldDescriptor fd = fp.field();
      FieldPath fieldPath = path.field(fd.getName());
      if (fd.isMapField()) {
        validateMap(message, fp, fieldPath);
      } else if (fd.isRepeated()) {
        validateRepeated(message, fp, fieldPath);
      } else {
        boolean has = !fd.hasPresence() || message.hasField(fd);
        if (fd.getContainingOneof() != null && !has) {
          continue;
        }
        if (fp.rules() != null) {
          checkValue(fd, fp.rules(), has ? message.getField(fd) : null, fieldPath);
        }
        if (fp.recurse() && has) {
          recurse((Message) message.getField(fd), fieldPath);
        }
      }
    }
  }

  private static void recurse(Message value, FieldPath path) {
    if (value instanceof Any any) {
      if (any.getTypeUrl().isEmpty()) {
        return;
      }
      Optional<Message> type = TypeResolver.get().resolveUrl(any.getTypeUrl());
      if (type.isEmpty()) {
        return;
      }
      // messages read from binary or text protos reach the registry here (config_dump prints them)
      TypeResolver.get().register(List.of(type.get().getDescriptorForType()));
      try {
        validate(type.get().getParserForType().parseFrom(any.getValue()), path);
      } catch (InvalidProtocolBufferException e) {
        throw new ConfigException(path.toString(), "cannot decode " + type.get().getDescriptorForType().getFullName()
            + ": " + e.getMessage());
      }
      return;
    }
    validate(value, path);
  }

  private static void validateRepeated(Message message, FieldPlan fp, FieldPath path) {
    FieldDescriptor fd = fp.field();
    int count = message.getRepeatedFieldCount(fd);
    FieldRules rules = fp.rules();
    if (rules != null && rules.hasRepeated()) {
      Validate.RepeatedRules r = rules.getRepeated();
      if (!(r.getIgnoreEmpty() && count == 0)) {
        if (r.hasMinItems() && count < r.getMinItems()) {
          throw new ConfigException(path.toString(), "value must contain at least " + r.getMinItems() + " item(s)");
        }
        if (r.hasMaxItems() && count > r.getMaxItems()) {
          throw new ConfigException(path.toString(), "value must contain no more than " + r.getMaxItems() + " item(s)");
        }
        if (r.getUnique()) {
          Set<Object> seen = new HashSet<>();
          for (int i = 0; i < count; i++) {
            if (!seen.add(message.getRepeatedField(fd, i))) {
              throw new ConfigException(path.index(i).toString(), "repeated value must contain unique items");
            }
          }
        }
        if (r.hasItems()) {
          for (int i = 0; i < count; i++) {
            checkValue(fd, r.getItems(), message.getRepeatedField(fd, i), path.index(i));
          }
        }
      }
    }
    if (fp.recurse()) {
      for (int i = 0; i < count; i++) {
        recurse((Message) message.getRepeatedField(fd, i), path.index(i));
      }
    }
  }

  private static void validateMap(Message message, FieldPlan fp, FieldPath path) {
    FieldDescriptor fd = fp.field();
    int count = message.getRepeatedFieldCount(fd);
    FieldDescriptor keyField = fd.getMessageType().findFieldByName("key");
    FieldDescriptor valueField = fd.getMessageType().findFieldByName("value");
    FieldRules rules = fp.rules();
    Validate.MapRules r = rules != null && rules.hasMap() ? rules.getMap() : null;
    if (r != null && !(r.getIgnoreEmpty() && count == 0)) {
      if (r.hasMinPairs() && count < r.getMinPairs()) {
        throw new ConfigException(path.toString(), "value must contain at least " + r.getMinPairs() + " pair(s)");
      }
      if (r.hasMaxPairs() && count > r.getMaxPairs()) {
        throw new ConfigException(path.toString(), "value must contain no more than " + r.getMaxPairs() + " pair(s)");
      }
    }
    for (int i = 0; i < count; i++) {
      Message entry = (Message) message.getRepeatedField(fd, i);
      Object key = entry.getField(keyField);
      Object value = entry.getField(valueField);
      FieldPath entryPath = path.key(String.valueOf(key));
      if (r != null && r.hasKeys()) {
        checkValue(keyField, r.getKeys(), key, entryPath);
      }
      if (r != null && r.hasValues()) {
        checkValue(valueField, r.getValues(), value, entryPath);
      }
      if (fp.recurse()) {
        recurse((Message) value, entryPath);
      }
    }
  }

  /** Checks one value (null when an optional field or message is unset) against its rules. */
  private static void checkValue(FieldDescriptor fd, FieldRules rules, Object value, FieldPath path) {
    if (rules.hasMessage() && rules.getMessage().getRequired() && value == null) {
      throw new ConfigException(path.toString(), "value is required");
    }
    switch (rules.getTypeCase()) {
      case STRING -> {
        String s = (String) unwrap(fd, value);
        if (s != null) {
          checkString(rules.getString(), s, path);
        }
      }
      case BYTES -> {
        ByteString b = (ByteString) unwrap(fd, value);
        if (b != null) {
          checkBytes(rules.getBytes(), b, path);
        }
      }
      case ENUM -> {
        if (value != null) {
          checkEnum(fd, rules.getEnum(), (EnumValueDescriptor) value, path);
        }
      }
      case DURATION -> checkDuration(rules.getDuration(), (Duration) value, path);
      case TIMESTAMP -> {
        if (rules.getTimestamp().getRequired() && value == null) {
          throw new ConfigException(path.toString(), "value is required");
        }
      }
      case ANY -> checkAny(rules.getAny(), (Any) value, path);
      case BOOL -> {
        Object v = unwrap(fd, value);
        if (v != null && rules.getBool().hasConst() && !v.equals(rules.getBool().getConst())) {
          throw new ConfigException(path.toString(), "value must equal " + rules.getBool().getConst());
        }
      }
      case FLOAT, DOUBLE, INT32, INT64, UINT32, UINT64, SINT32, SINT64, FIXED32, FIXED64, SFIXED32, SFIXED64 -> {
        Object v = unwrap(fd, value);
        if (v != null) {
          checkNumber(rules, v, path);
        }
      }
      default -> { }
    }
  }

  /** Returns the scalar inside a wrapper message (or the value itself), or null when unset. */
  private static Object unwrap(FieldDescriptor fd, Object value) {
    if (value instanceof Message m) {
      FieldDescriptor inner = m.getDescriptorForType().findFieldByName("value");
      return inner == null ? null : m.getField(inner);
    }
    return value;
  }

  private static void checkString(Validate.StringRules r, String s, FieldPath path) {
    if (r.getIgnoreEmpty() && s.isEmpty()) {
      return;
    }
    String p = path.toString();
    if (r.hasConst() && !s.equals(r.getConst())) {
      throw new ConfigException(p, "value must equal \"" + r.getConst() + "\"");
    }
    int chars = s.codePointCount(0, s.length());
    if (r.hasLen() && chars != r.getLen()) {
      throw new ConfigException(p, "value length must be " + r.getLen() + " characters");
    }
    if (r.hasMinLen() && chars < r.getMinLen()) {
      throw new ConfigException(p, "value length must be at least " + r.getMinLen() + " characters");
    }
    if (r.hasMaxLen() && chars > r.getMaxLen()) {
      throw new ConfigException(p, "value length must be at most " + r.getMaxLen() + " characters");
    }
    if (r.hasLenBytes() || r.hasMinBytes() || r.hasMaxBytes()) {
      int bytes = s.getBytes(StandardCharsets.UTF_8).length;
      if (r.hasLenBytes() && bytes != r.getLenBytes()) {
        throw new ConfigException(p, "value length must be " + r.getLenBytes() + " bytes");
      }
      if (r.hasMinBytes() && bytes < r.getMinBytes()) {
        throw new ConfigException(p, "value length must be at least " + r.getMinBytes() + " bytes");
      }
      if (r.hasMaxBytes() && bytes > r.getMaxBytes()) {
        throw new ConfigException(p, "value length must be at most " + r.getMaxBytes() + " bytes");
      }
    }
    if (r.hasPattern()) {
      Optional<Pattern> pattern = PATTERNS.computeIfAbsent(r.getPattern(), ProtoValidator::compile);
      if (pattern.isPresent() && !pattern.get().matcher(s).find()) {
        throw new ConfigException(p, "value does not match regex pattern \"" + r.getPattern() + "\"");
      }
    }
    if (r.hasPrefix() && !s.startsWith(r.getPrefix())) {
      throw new ConfigException(p, "value does not have prefix \"" + r.getPrefix() + "\"");
    }
    if (r.hasSuffix() && !s.endsWith(r.getSuffix())) {
      throw new ConfigException(p, "value does not have suffix \"" + r.getSuffix() + "\"");
    }
    if (r.hasContains() && !s.contains(r.getContains())) {
      throw new ConfigException(p, "value does not contain substring \"" + r.getContains() + "\"");
    }
    if (r.hasNotContains() && s.contains(r.getNotContains())) {
      throw new ConfigException(p, "value contains substring \"" + r.getNotContains() + "\"");
    }
    if (r.getInCount() > 0 && !r.getInList().contains(s)) {
      throw new ConfigException(p, "value must be in list " + r.getInList());
    }
    if (r.getNotInList().contains(s)) {
      throw new ConfigException(p, "value must not be in list " + r.getNotInList());
    }
    switch (r.getWellKnownCase()) {
      case HOSTNAME -> {
        if (r.getHostname() && !isHostname(s)) {
          throw new ConfigException(p, "value must be a valid hostname");
        }
      }
      case IP -> {
        if (r.getIp() && !isIp(s, 0)) {
          throw new ConfigException(p, "value must be a valid IP address");
        }
      }
      case IPV4 -> {
        if (r.getIpv4() && !isIp(s, 4)) {
          throw new ConfigException(p, "value must be a valid IPv4 address");
        }
      }
      case IPV6 -> {
        if (r.getIpv6() && !isIp(s, 6)) {
          throw new ConfigException(p, "value must be a valid IPv6 address");
        }
      }
      case ADDRESS -> {
        if (r.getAddress() && !isHostname(s) && !isIp(s, 0)) {
          throw new ConfigException(p, "value must be a valid hostname, or ip address");
        }
      }
      case URI -> {
        if (r.getUri() && !isUri(s, true)) {
          throw new ConfigException(p, "value must be a valid URI");
        }
      }
      case URI_REF -> {
        if (r.getUriRef() && !isUri(s, false)) {
          throw new ConfigException(p, "value must be a valid URI");
        }
      }
      case UUID -> {
        if (r.getUuid() && !UUID.matcher(s).matches()) {
          throw new ConfigException(p, "value must be a valid UUID");
        }
      }
      case WELL_KNOWN_REGEX -> {
        boolean strict = !r.hasStrict() || r.getStrict();
        Pattern pattern = switch (r.getWellKnownRegex()) {
          case HTTP_HEADER_NAME -> strict ? HEADER_NAME_STRICT : HEADER_LOOSE;
          case HTTP_HEADER_VALUE -> strict ? HEADER_VALUE_STRICT : HEADER_LOOSE;
          default -> null;
        };
        if (pattern != null && !pattern.matcher(s).matches()) {
          throw new ConfigException(p, "value does not match regex pattern \"" + pattern.pattern() + "\"");
        }
      }
      default -> { }
    }
  }

  private static Optional<Pattern> compile(String regex) {
    try {
      return Optional.of(Pattern.compile(regex));
    } catch (PatternSyntaxException e) {
      return Optional.empty();
    }
  }

  private static boolean isHostname(String s) {
    String h = s.endsWith(".") ? s.substring(0, s.length() - 1) : s;
    if (h.isEmpty() || h.length() > 253) {
      return false;
    }
    for (String label : h.split("\\.", -1)) {
      if (label.length() > 63 || !HOSTNAME_LABEL.matcher(label).matches()) {
        return false;
      }
    }
    return true;
  }

  private static boolean isIp(String s, int version) {
    boolean v6 = s.indexOf(':') >= 0;
    if (v6 ? version == 4 : version == 6) {
      return false;
    }
    if (!v6 && !s.matches("^\\d{1,3}(\\.\\d{1,3}){3}$")) {
      return false;
    }
    if (v6 && !s.matches("^[0-9a-fA-F:.]+$")) {
      return false;
    }
    try {
      InetAddress.getByName(s);
      return true;
    } catch (java.net.UnknownHostException e) {
      return false;
    }
  }

  private static boolean isUri(String s, boolean absolute) {
    try {
      URI uri = new URI(s);
      return !absolute || uri.isAbsolute();
    } catch (URISyntaxException e) {
      return false;
    }
  }

  private static void checkBytes(Validate.BytesRules r, ByteString b, FieldPath path) {
    if (r.getIgnoreEmpty() && b.isEmpty()) {
      return;
    }
    if (r.hasLen() && b.size() != r.getLen()) {
      throw new ConfigException(path.toString(), "value length must be " + r.getLen() + " bytes");
    }
    if (r.hasMinLen() && b.size() < r.getMinLen()) {
      throw new ConfigException(path.toString(), "value length must be at least " + r.getMinLen() + " bytes");
    }
    if (r.hasMaxLen() && b.size() > r.getMaxLen()) {
      throw new ConfigException(path.toString(), "value length must be at most " + r.getMaxLen() + " bytes");
    }
  }

  private static void checkEnum(FieldDescriptor fd, Validate.EnumRules r, EnumValueDescriptor v, FieldPath path) {
    int n = v.getNumber();
    if (r.hasConst() && n != r.getConst()) {
      throw new ConfigException(path.toString(), "value must equal " + r.getConst());
    }
    if (r.getDefinedOnly() && fd.getEnumType().findValueByNumber(n) == null) {
      throw new ConfigException(path.toString(), "value must be one of the defined enum values");
    }
    if (r.getInCount() > 0 && !r.getInList().contains(n)) {
      throw new ConfigException(path.toString(), "value must be in list " + r.getInList());
    }
    if (r.getNotInList().contains(n)) {
      throw new ConfigException(path.toString(), "value must not be in list " + r.getNotInList());
    }
  }

  private static void checkAny(Validate.AnyRules r, Any value, FieldPath path) {
    if (value == null) {
      if (r.getRequired()) {
        throw new ConfigException(path.toString(), "value is required");
      }
      return;
    }
    if (r.getInCount() > 0 && !r.getInList().contains(value.getTypeUrl())) {
      throw new ConfigException(path.toString(), "type URL must be in list " + r.getInList());
    }
    if (r.getNotInList().contains(value.getTypeUrl())) {
      throw new ConfigException(path.toString(), "type URL must not be in list " + r.getNotInList());
    }
  }

  private static void checkDuration(Validate.DurationRules r, Duration value, FieldPath path) {
    if (value == null) {
      if (r.getRequired()) {
        throw new ConfigException(path.toString(), "value is required");
      }
      return;
    }
    String p = path.toString();
    if (r.hasConst() && Durations.compare(value, r.getConst()) != 0) {
      throw new ConfigException(p, "value must equal " + Durations.toString(r.getConst()));
    }
    BigDecimal v = seconds(value);
    checkRange(v, r.hasGt() ? seconds(r.getGt()) : null, r.hasGte() ? seconds(r.getGte()) : null,
        r.hasLt() ? seconds(r.getLt()) : null, r.hasLte() ? seconds(r.getLte()) : null, true, p);
    if (r.getInCount() > 0 && r.getInList().stream().noneMatch(d -> Durations.compare(d, value) == 0)) {
      throw new ConfigException(p, "value must be in list " + r.getInList().stream().map(Durations::toString).toList());
    }
    if (r.getNotInList().stream().anyMatch(d -> Durations.compare(d, value) == 0)) {
      throw new ConfigException(p, "value must not be in list " + r.getNotInList().stream().map(Durations::toString).toList());
    }
  }

  private static BigDecimal seconds(Duration d) {
    return BigDecimal.valueOf(d.getSeconds()).add(BigDecimal.valueOf(d.getNanos(), 9));
  }

  /** Checks a number against the generic numeric rules (const, lt, lte, gt, gte, in, not_in). */
  private static void checkNumber(FieldRules fieldRules, Object value, FieldPath path) {
    Message rules = (Message) fieldRules.getField(fieldRules.getDescriptorForType()
        .findFieldByNumber(fieldRules.getTypeCase().getNumber()));
    boolean unsigned = switch (fieldRules.getTypeCase()) {
      case UINT32, UINT64, FIXED32, FIXED64 -> true;
      default -> false;
    };
    Descriptor d = rules.getDescriptorForType();
    FieldDescriptor ignoreEmpty = d.findFieldByName("ignore_empty");
    BigDecimal v = toDecimal(value, unsigned);
    if (ignoreEmpty != null && (Boolean) rules.getField(ignoreEmpty) && v.signum() == 0) {
      return;
    }
    String p = path.toString();
    BigDecimal constant = bound(rules, d, "const", unsigned);
    if (constant != null && v.compareTo(constant) != 0) {
      throw new ConfigException(p, "value must equal " + format(constant, false));
    }
    checkRange(v, bound(rules, d, "gt", unsigned), bound(rules, d, "gte", unsigned), bound(rules, d, "lt", unsigned),
        bound(rules, d, "lte", unsigned), false, p);
    List<BigDecimal> in = list(rules, d, "in", unsigned);
    if (!in.isEmpty() && in.stream().noneMatch(x -> x.compareTo(v) == 0)) {
      throw new ConfigException(p, "value must be in list " + formatList(in));
    }
    List<BigDecimal> notIn = list(rules, d, "not_in", unsigned);
    if (notIn.stream().anyMatch(x -> x.compareTo(v) == 0)) {
      throw new ConfigException(p, "value must not be in list " + formatList(notIn));
    }
  }

  private static BigDecimal bound(Message rules, Descriptor d, String name, boolean unsigned) {
    FieldDescriptor f = d.findFieldByName(name);
    return f != null && rules.hasField(f) ? toDecimal(rules.getField(f), unsigned) : null;
  }

  private static List<BigDecimal> list(Message rules, Descriptor d, String name, boolean unsigned) {
    FieldDescriptor f = d.findFieldByName(name);
    if (f == null) {
      return List.of();
    }
    List<BigDecimal> out = new ArrayList<>();
    for (int i = 0; i < rules.getRepeatedFieldCount(f); i++) {
      out.add(toDecimal(rules.getRepeatedField(f, i), unsigned));
    }
    return out;
  }

  private static BigDecimal toDecimal(Object value, boolean unsigned) {
    if (value instanceof Integer i) {
      return BigDecimal.valueOf(unsigned ? Integer.toUnsignedLong(i) : i);
    }
    if (value instanceof Long l) {
      return unsigned && l < 0 ? new BigDecimal(Long.toUnsignedString(l)) : BigDecimal.valueOf(l);
    }
    if (value instanceof Float f) {
      return new BigDecimal(Float.toString(f));
    }
    return BigDecimal.valueOf(((Number) value).doubleValue());
  }

  /** Applies PGV's range semantics: both bounds give an inside (or, if inverted, outside) range. */
  private static void checkRange(BigDecimal v, BigDecimal gt, BigDecimal gte, BigDecimal lt, BigDecimal lte,
      boolean duration, String path) {
    BigDecimal lower = gt != null ? gt : gte;
    BigDecimal upper = lt != null ? lt : lte;
    if (lower != null && upper != null) {
      boolean aboveLower = gt != null ? v.compareTo(gt) > 0 : v.compareTo(gte) >= 0;
      boolean belowUpper = lt != null ? v.compareTo(lt) < 0 : v.compareTo(lte) <= 0;
      String open = gt != null ? "(" : "[";
      String close = lt != null ? ")" : "]";
      if (upper.compareTo(lower) > 0) {
        if (!aboveLower || !belowUpper) {
          throw new ConfigException(path, "value must be inside range " + open + format(lower, duration) + ", "
              + format(upper, duration) + close);
        }
      } else if (!aboveLower && !belowUpper) {
        throw new ConfigException(path, "value must be outside range " + (lt != null ? "[" : "(") + format(upper, duration)
            + ", " + format(lower, duration) + (gt != null ? "]" : ")"));
      }
      return;
    }
    if (gt != null && v.compareTo(gt) <= 0) {
      throw new ConfigException(path, "value must be greater than " + format(gt, duration));
    }
    if (gte != null && v.compareTo(gte) < 0) {
      throw new ConfigException(path, "value must be greater than or equal to " + format(gte, duration));
    }
    if (lt != null && v.compareTo(lt) >= 0) {
      throw new ConfigException(path, "value must be less than " + format(lt, duration));
    }
    if (lte != null && v.compareTo(lte) > 0) {
      throw new ConfigException(path, "value must be less than or equal to " + format(lte, duration));
    }
  }

  private static String format(BigDecimal n, boolean duration) {
    String s = n.signum() == 0 ? "0" : n.stripTrailingZeros().toPlainString();
    return duration ? s + "s" : s;
  }

  private static String formatList(List<BigDecimal> values) {
    StringJoiner j = new StringJoiner(", ", "[", "]");
    values.forEach(v -> j.add(format(v, false)));
    return j.toString();
  }
}

package io.legate.config;

import com.google.protobuf.Any;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.TextFormat;
import com.google.protobuf.util.JsonFormat;
import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Loads Envoy v3 configuration as Envoy does: YAML or JSON, read through the proto3 JSON mapping
 * ({@code JsonFormat}), with {@code @type} URLs resolved on demand, then checked against Envoy's
 * protoc-gen-validate rules and the structural rules Envoy applies at load time.
 *
 * <p>Every error is a {@link ConfigException} whose message reads {@code <source>: <field path>:
 * <reason>}, for example {@code envoy.yaml: static_resources.clusters[0].name: value length must be at
 * least 1 characters}.
 */
public final class ConfigLoader {
  /** The source name used in errors for the {@code --config-yaml} overlay. */
  public static final String OVERLAY_SOURCE = "--config-yaml";

  private ConfigLoader() {}

  /**
   * Loads a Bootstrap from a YAML or JSON file, with an optional {@code --config-yaml} overlay merged
   * over it (proto {@code mergeFrom}, as Envoy does: singular fields are replaced, repeated fields
   * appended). Either may be null but not both. The result has passed {@link ProtoValidator} and
   * {@link BootstrapValidator}. Throws ConfigException {@code "<file>: <field path>: <reason>"}.
   */
  public static Bootstrap loadBootstrap(Path file, String overlayYaml) {
    boolean hasOverlay = overlayYaml != null && !(file != null && overlayYaml.isBlank());
    if (file == null && !hasOverlay) {
      throw new ConfigException("no configuration: give a config file (-c) or " + OVERLAY_SOURCE);
    }
    Bootstrap.Builder builder = Bootstrap.newBuilder();
    if (file != null) {
      load(file, builder);
    }
    if (hasOverlay) {
      Bootstrap overlay = parse(overlayYaml, Bootstrap.newBuilder(), OVERLAY_SOURCE).build();
      builder.mergeFrom(overlay);
    }
    Bootstrap bootstrap = builder.build();
    String source = file == null ? OVERLAY_SOURCE : hasOverlay ? file + " + " + OVERLAY_SOURCE : file.toString();
    try {
      ProtoValidator.validate(bootstrap, "");
      BootstrapValidator.validate(bootstrap);
    } catch (ConfigException e) {
      throw e.prefixed(source);
    }
    return bootstrap;
  }

  /**
   * Reads a file into a message of the builder's type, choosing the format by extension as Envoy does:
   * {@code .json} JSON, {@code .yaml}/{@code .yml} YAML, {@code .pb_text} text proto, {@code .pb} binary;
   * anything else is read as JSON or YAML by its content. Errors are prefixed with the file name.
   * Returns the builder.
   */
  public static <B extends Message.Builder> B load(Path file, B builder) {
    String source = file.toString();
    String name = file.getFileName() == null ? "" : file.getFileName().toString();
    if (name.endsWith(".pb")) {
      try {
        builder.mergeFrom(Files.readAllBytes(file));
        return builder;
      } catch (InvalidProtocolBufferException e) {
        throw new ConfigException(source, "invalid binary proto: " + e.getMessage());
      } catch (IOException e) {
        throw new ConfigException(source, "cannot read file: " + describe(e));
      }
    }
    String text;
    try {
      text = Files.readString(file);
    } catch (IOException e) {
      throw new ConfigException(source, "cannot read file: " + describe(e));
    }
    if (name.endsWith(".pb_text")) {
      try {
        TextFormat.getParser().merge(text, builder);
        return builder;
      } catch (TextFormat.ParseException e) {
        throw new ConfigException(source, "invalid text proto: " + e.getMessage());
      }
    }
    if (name.endsWith(".json")) {
      Object tree;
      try {
        tree = JsonTree.fromJson(text);
      } catch (ConfigException e) {
        throw e.prefixed(source);
      }
      return parseTree(tree, false, builder, source);
    }
    if (name.endsWith(".yaml") || name.endsWith(".yml")) {
      Object tree;
      try {
        tree = JsonTree.fromYaml(text);
      } catch (ConfigException e) {
        throw e.prefixed(source);
      }
      return parseTree(tree, true, builder, source);
    }
    return parse(text, builder, source);
  }

  /**
   * Parses YAML or JSON text into a message of the given builder's type (used for Bootstrap and xDS
   * resource files) and returns the builder. Text that starts with '{' is read as JSON, falling back to
   * YAML (for flow mappings such as {@code {node: {id: a}}}); anything else as YAML. It checks field
   * names, value kinds, enum values, type URLs and oneofs, but not protoc-gen-validate rules (see
   * {@link ProtoValidator}). sourceName prefixes errors.
   */
  public static <B extends Message.Builder> B parse(String yamlOrJson, B builder, String sourceName) {
    if (JsonTree.looksLikeJson(yamlOrJson)) {
      Object tree;
      try {
        tree = JsonTree.fromJson(yamlOrJson);
      } catch (ConfigException jsonError) {
        // not JSON: perhaps a YAML flow mapping such as {node: {id: a}}; if it is not YAML either, the
        // JSON error is the one to show
        Object yamlTree;
        try {
          yamlTree = JsonTree.fromYaml(yamlOrJson);
        } catch (ConfigException yamlError) {
          throw prefix(jsonError, sourceName);
        }
        return parseTree(yamlTree, true, builder, sourceName);
      }
      return parseTree(tree, false, builder, sourceName);
    }
    Object tree;
    try {
      tree = JsonTree.fromYaml(yamlOrJson);
    } catch (ConfigException e) {
      throw prefix(e, sourceName);
    }
    return parseTree(tree, true, builder, sourceName);
  }

  /**
   * Unpacks an Any into the given type. A {@code TypedStruct} (xds or udpa) whose type_url names that
   * type is converted from its Struct, as Envoy does. Throws ConfigException at {@code path} if the type
   * URL does not name that type or the contents do not decode.
   */
  public static <T extends Message> T unpack(Any any, Class<T> type, String path) {
    T defaultInstance = com.google.protobuf.Internal.getDefaultInstance(type);
    String expected = defaultInstance.getDescriptorForType().getFullName();
    String url = any.getTypeUrl();
    if (url.isEmpty()) {
      throw new ConfigException(path, "expected a typed config of type 'type.googleapis.com/" + expected + "', but '@type' is not set");
    }
    String actual = url.substring(url.lastIndexOf('/') + 1);
    if (actual.equals("xds.type.v3.TypedStruct") || actual.equals("udpa.type.v1.TypedStruct")) {
      return fromTypedStruct(any, type, defaultInstance, expected, path);
    }
    if (!actual.equals(expected)) {
      throw new ConfigException(path, "expected type 'type.googleapis.com/" + expected + "', got '" + url + "'");
    }
    try {
      @SuppressWarnings("unchecked")
      T message = (T) defaultInstance.getParserForType().parseFrom(any.getValue());
      TypeResolver.get().register(List.of(defaultInstance.getDescriptorForType()));
      return message;
    } catch (InvalidProtocolBufferException e) {
      throw new ConfigException(path, "cannot decode " + expected + ": " + e.getMessage());
    }
  }

  /**
   * Converts a TypedStruct (an extension config written as a Struct plus the type it stands for) into
   * that type, as Envoy does when an extension's config arrives as a TypedStruct.
   */
  private static <T extends Message> T fromTypedStruct(Any any, Class<T> type, T defaultInstance, String expected,
      String path) {
    String typeUrl;
    com.google.protobuf.Struct value;
    try {
      if (any.getTypeUrl().endsWith("/xds.type.v3.TypedStruct")) {
        com.github.xds.type.v3.TypedStruct ts = any.unpack(com.github.xds.type.v3.TypedStruct.class);
        typeUrl = ts.getTypeUrl();
        value = ts.getValue();
      } else {
        com.github.udpa.udpa.type.v1.TypedStruct ts = any.unpack(com.github.udpa.udpa.type.v1.TypedStruct.class);
        typeUrl = ts.getTypeUrl();
        value = ts.getValue();
      }
    } catch (InvalidProtocolBufferException e) {
      throw new ConfigException(path, "cannot decode TypedStruct: " + e.getMessage());
    }
    String actual = typeUrl.substring(typeUrl.lastIndexOf('/') + 1);
    if (!actual.equals(expected)) {
      throw new ConfigException(path + ".type_url", "expected type 'type.googleapis.com/" + expected + "', got '"
          + typeUrl + "'");
    }
    String json;
    try {
      json = JsonFormat.printer().print(value);
    } catch (InvalidProtocolBufferException e) {
      throw new ConfigException(path + ".value", e.getMessage());
    }
    Message.Builder builder = defaultInstance.newBuilderForType();
    parseTree(JsonTree.fromJson(json), false, builder, "", FieldPath.of(path + ".value"));
    return type.cast(builder.build());
  }

  /**
   * Returns the type registry holding every type the loader has resolved so far (for {@code JsonFormat}
   * printing of config_dump).
   */
  public static JsonFormat.TypeRegistry typeRegistry() {
    return TypeResolver.get().registry();
  }

  /**
   * Returns the default instance of the message type named by a type URL, resolving and registering it
   * on first use, or null when no generated class is known for it.
   */
  public static Message resolveType(String typeUrl) {
    Message m = TypeResolver.get().resolveUrl(typeUrl).orElse(null);
    if (m != null) {
      TypeResolver.get().register(List.of(m.getDescriptorForType()));
    }
    return m;
  }

  private static <B extends Message.Builder> B parseTree(Object root, boolean yaml, B builder, String source) {
    return parseTree(root, yaml, builder, source, FieldPath.ROOT);
  }

  private static <B extends Message.Builder> B parseTree(Object root, boolean yaml, B builder, String source,
      FieldPath rootPath) {
    Descriptor type = builder.getDescriptorForType();
    if (root == null) {
      throw prefix(new ConfigException("empty configuration"), source);
    }
    if (!(root instanceof Map)) {
      throw prefix(new ConfigException("the configuration must be a mapping of " + type.getFullName() + " fields, got "
          + JsonChecker.describe(root)), source);
    }
    TypeResolver resolver = TypeResolver.get();
    JsonChecker checker = new JsonChecker(yaml, resolver);
    try {
      checker.checkRoot(root, type, rootPath);
    } catch (ConfigException e) {
      throw prefix(e, source);
    }
    List<Descriptor> types = new ArrayList<>(checker.anyTypes());
    types.add(type);
    resolver.register(types);
    JsonFormat.Parser parser = JsonFormat.parser().usingTypeRegistry(resolver.registry());
    try {
      parser.merge(JsonTree.toJson(root), builder);
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      throw prefix(locate(root, type, rootPath, parser, resolver, reason(e)), source);
    }
    return builder;
  }

  private static String reason(Exception e) {
    String m = e.getMessage();
    return m == null ? e.getClass().getSimpleName() : m;
  }

  /** Finds the deepest object that JsonFormat refuses and reports the error at its path. */
  private static ConfigException locate(Object value, Descriptor type, FieldPath path, JsonFormat.Parser parser,
      TypeResolver resolver, String reason) {
    Object el = value;
    Descriptor t = type;
    if (t.getFullName().equals("google.protobuf.Any") && el instanceof Map<?, ?> m && m.get("@type") instanceof String url) {
      Message inner = resolver.resolveUrl(url).orElse(null);
      if (inner != null && !JsonChecker.hasSpecialJson(inner.getDescriptorForType())) {
        Map<String, Object> copy = new LinkedHashMap<>(JsonChecker.asObject(el));
        copy.remove("@type");
        el = copy;
        t = inner.getDescriptorForType();
      }
    }
    if (el instanceof Map && !JsonChecker.hasSpecialJson(t)) {
      for (JsonChecker.Child child : JsonChecker.children(JsonChecker.asObject(el), t, path)) {
        if (child.value() == null) {
          continue;
        }
        try {
          parser.merge(JsonTree.toJson(child.value()), newBuilder(child.type(), resolver));
        } catch (InvalidProtocolBufferException | RuntimeException e) {
          return locate(child.value(), child.type(), child.path(), parser, resolver, reason(e));
        }
      }
    }
    return new ConfigException(path.toString(), reason);
  }

  private static Message.Builder newBuilder(Descriptor type, TypeResolver resolver) {
    return resolver.resolveName(type.getFullName()).map(Message::newBuilderForType)
        .orElseGet(() -> DynamicMessage.newBuilder(type));
  }

  private static ConfigException prefix(ConfigException e, String source) {
    return source == null || source.isEmpty() ? e : e.prefixed(source);
  }

  private static String describe(IOException e) {
    if (e instanceof NoSuchFileException) {
      return "no such file";
    }
    if (e instanceof AccessDeniedException) {
      return "permission denied";
    }
    if (e instanceof CharacterCodingException) {
      return "not valid UTF-8 text";
    }
    if (e.getMessage() != null && e.getMessage().contains("Is a directory")) {
      return "is a directory";
    }
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }
}

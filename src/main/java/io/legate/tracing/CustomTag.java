package io.legate.tracing;

import io.envoyproxy.envoy.type.tracing.v3.CustomTag.TypeCase;
import io.legate.config.ConfigException;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.Locale;
import java.util.function.Function;

/**
 * A {@code custom_tags} entry: a literal, an environment variable (read once, at config time) or a
 * request header, each with Envoy's rule that an empty value sets no tag.
 *
 * @param tag the tag's name
 * @param value the literal or environment value, or the request header's default value
 * @param header the request header to read, or null
 */
public record CustomTag(String tag, String value, AsciiString header) {
  /**
   * Builds a tag from its proto.
   *
   * @param env reads environment variables (tests pass a map)
   * @param path the field path of the entry, for errors
   */
  public static CustomTag build(
      io.envoyproxy.envoy.type.tracing.v3.CustomTag proto, String path, Function<String, String> env) {
    if (proto.getTag().isEmpty()) {
      throw new ConfigException(path + ".tag", "value length must be at least 1 characters");
    }
    TypeCase t = proto.getTypeCase();
    return switch (t) {
      case LITERAL -> new CustomTag(proto.getTag(), proto.getLiteral().getValue(), null);
      case ENVIRONMENT -> {
        if (proto.getEnvironment().getName().isEmpty()) {
          throw new ConfigException(path + ".environment.name", "value length must be at least 1 characters");
        }
        String v = env.apply(proto.getEnvironment().getName());
        yield new CustomTag(proto.getTag(), v != null ? v : proto.getEnvironment().getDefaultValue(), null);
      }
      case REQUEST_HEADER -> {
        String name = proto.getRequestHeader().getName();
        if (name.isEmpty()) {
          throw new ConfigException(path + ".request_header.name", "value length must be at least 1 characters");
        }
        yield new CustomTag(
            proto.getTag(),
            proto.getRequestHeader().getDefaultValue(),
            AsciiString.cached(name.toLowerCase(Locale.ROOT)));
      }
      case METADATA -> throw new ConfigException(path + ".metadata", "metadata custom tags are not supported yet");
      default -> throw new ConfigException(path, "one of literal, environment or request_header is required");
    };
  }

  /** Returns the tag's value for a request, or null when it sets no tag (an empty value). */
  public String valueFor(Http2Headers requestHeaders) {
    String v = value;
    if (header != null && requestHeaders != null) {
      CharSequence h = requestHeaders.get(header);
      if (h != null) {
        v = h.toString();
      }
    }
    return v == null || v.isEmpty() ? null : v;
  }
}

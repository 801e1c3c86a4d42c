package io.legate.formatter;

import io.legate.config.ConfigException;
import io.legate.http.ResponseFlag;
import io.legate.http.StreamInfo;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An Envoy substitution format string ({@code "%REQ(:PATH)% %RESPONSE_CODE%"}), compiled once into
 * a list of literal and command parts. {@link #format} never parses.
 *
 * <p>A command whose value is unknown prints {@code -} (Envoy's access-log behaviour), or nothing
 * when the formatter was built with {@code omitEmptyValues} (Envoy's header formatter).
 */
public final class Formatter {
  /** Envoy's command syntax: name, optional (argument), optional :max_length. */
  private static final Pattern COMMAND =
      Pattern.compile("%([A-Z]|[A-Z][A-Z0-9_]*[A-Z0-9])(?:\\(([^)]*)\\))?(?::([0-9]+))?%");

  private static final String HOSTNAME = hostname();

  private final List<Part> parts;
  private final boolean omitEmptyValues;
  private final String constant;

  private Formatter(List<Part> parts, boolean omitEmptyValues) {
    this.parts = List.copyOf(parts);
    this.omitEmptyValues = omitEmptyValues;
    String c = null;
    if (parts.isEmpty()) {
      c = "";
    } else if (parts.size() == 1 && parts.get(0) instanceof Literal l) {
      c = l.text;
    }
    this.constant = c;
  }

  /** Parses a format string for access logs (missing values print {@code -}). */
  public static Formatter parse(String format, String pathForErrors) {
    return parse(format, pathForErrors, false);
  }

  /**
   * Parses a format string.
   *
   * @param omitEmptyValues true for header values: a missing value prints as empty instead of
   *     {@code -}
   * @throws ConfigException on an unknown command or malformed syntax
   */
  public static Formatter parse(String format, String pathForErrors, boolean omitEmptyValues) {
    List<Part> parts = new ArrayList<>();
    StringBuilder literal = new StringBuilder();
    Matcher m = COMMAND.matcher(format);
    int pos = 0;
    while (pos < format.length()) {
      char c = format.charAt(pos);
      if (c != '%') {
        literal.append(c);
        pos++;
        continue;
      }
      if (pos + 1 < format.length() && format.charAt(pos + 1) == '%') {
        literal.append('%');
        pos += 2;
        continue;
      }
      m.region(pos, format.length());
      if (!m.lookingAt()) {
        throw new ConfigException(
            pathForErrors,
            "Incorrect configuration: " + format + ". Couldn't find valid command at position " + pos);
      }
      if (literal.length() > 0) {
        parts.add(new Literal(literal.toString()));
        literal.setLength(0);
      }
      String command = m.group(1);
      String arg = m.group(2);
      int maxLen = m.group(3) == null ? -1 : parseMaxLen(m.group(3), pathForErrors);
      parts.add(command(command, arg, maxLen, pathForErrors));
      pos = m.end();
    }
    if (literal.length() > 0) {
      parts.add(new Literal(literal.toString()));
    }
    return new Formatter(parts, omitEmptyValues);
  }

  private static int parseMaxLen(String s, String path) {
    try {
      return Integer.parseInt(s);
    } catch (NumberFormatException e) {
      throw new ConfigException(path, "Length of the command is too large: " + s);
    }
  }

  /** Returns true if this format has no command parts. */
  public boolean isConstant() {
    return constant != null;
  }

  /** Formats against the stream, with the stream's own request and response headers. */
  public String format(StreamInfo info) {
    return format(info, info.requestHeaders(), info.responseHeaders(), System.nanoTime());
  }

  /**
   * Formats against the stream with explicit header maps (either may be null) and clock
   * ({@link System#nanoTime()} scale, for {@code %DURATION%}).
   */
  public String format(
      StreamInfo info, Http2Headers requestHeaders, Http2Headers responseHeaders, long nowNanos) {
    if (constant != null) {
      return constant;
    }
    StringBuilder sb = new StringBuilder(64);
    for (Part p : parts) {
      if (p instanceof Literal l) {
        sb.append(l.text);
        continue;
      }
      Command c = (Command) p;
      String v = c.value(info, requestHeaders, responseHeaders, nowNanos);
      if (v == null) {
        if (!omitEmptyValues) {
          sb.append('-');
        }
        continue;
      }
      if (c.maxLen >= 0 && v.length() > c.maxLen) {
        v = v.substring(0, c.maxLen);
      }
      sb.append(v);
    }
    return sb.toString();
  }

  /**
   * Returns this format's value for a {@code json_format} field, as JSON text. As Envoy (which
   * preserves types), a format that is exactly one command gives that command's typed value: a
   * number for counts, durations and ports, an object or other JSON for {@code DYNAMIC_METADATA},
   * {@code null} when unknown; any other format gives a JSON string.
   */
  public String formatJson(StreamInfo info) {
    if (parts.size() == 1 && parts.get(0) instanceof Command c) {
      Http2Headers req = info.requestHeaders();
      Http2Headers resp = info.responseHeaders();
      long now = System.nanoTime();
      if (c.json != null) {
        String j = c.json.extract(info, req, resp, now);
        return j == null ? "null" : j;
      }
      String v = c.value(info, req, resp, now);
      if (v == null) {
        return "null";
      }
      if (c.numeric) {
        return v;
      }
      if (c.maxLen >= 0 && v.length() > c.maxLen) {
        v = v.substring(0, c.maxLen);
      }
      StringBuilder sb = new StringBuilder(v.length() + 2);
      io.legate.config.JsonStrings.quote(sb, v);
      return sb.toString();
    }
    StringBuilder sb = new StringBuilder();
    io.legate.config.JsonStrings.quote(sb, format(info));
    return sb.toString();
  }

  private interface Part {}

  private record Literal(String text) implements Part {}

  private interface Extractor {
    /** Returns the value, or null if unknown. */
    String extract(StreamInfo info, Http2Headers req, Http2Headers resp, long nowNanos);
  }

  /**
   * A command: its text value; whether that value is a JSON number; and, for a command whose JSON
   * value is not its text (metadata), the JSON extractor.
   */
  private record Command(Extractor extractor, int maxLen, boolean numeric, Extractor json) implements Part {
    Command(Extractor extractor, int maxLen) {
      this(extractor, maxLen, false, null);
    }

    String value(StreamInfo info, Http2Headers req, Http2Headers resp, long now) {
      return extractor.extract(info, req, resp, now);
    }
  }

  private static Part command(String name, String arg, int maxLen, String path) {
    Extractor e;
    switch (name) {
      case "REQ", "RESP", "TRAILER" -> {
        if (arg == null || arg.isEmpty()) {
          throw new ConfigException(path, name + " requires parameters");
        }
        String[] alt = arg.split("\\?", -1);
        if (alt.length > 2) {
          throw new ConfigException(
              path, "More than 1 alternative header specified in token: " + arg);
        }
        AsciiString main = AsciiString.of(alt[0].toLowerCase(java.util.Locale.ROOT));
        AsciiString fallback =
            alt.length == 2 ? AsciiString.of(alt[1].toLowerCase(java.util.Locale.ROOT)) : null;
        e =
            switch (name) {
              case "REQ" -> (info, req, resp, now) -> header(req, main, fallback);
              case "RESP" -> (info, req, resp, now) -> header(resp, main, fallback);
              default -> (info, req, resp, now) -> header(info.responseTrailers(), main, fallback);
            };
        return new Command(e, maxLen);
      }
      case "START_TIME" -> {
        StrftimeFormat f =
            StrftimeFormat.compile(
                arg == null || arg.isEmpty() ? StrftimeFormat.DEFAULT : arg, path);
        e = (info, req, resp, now) -> f.format(info.startTimeMillis(), 0, 0);
        return new Command(e, maxLen);
      }
      case "FILTER_STATE" -> {
        if (arg == null || arg.isEmpty()) {
          throw new ConfigException(path, "FILTER_STATE requires parameters");
        }
        String[] p = arg.split(":", -1);
        if (p.length > 2) {
          throw new ConfigException(path, "FILTER_STATE field access (" + arg + ") is not supported");
        }
        if (p.length == 2 && !p[1].equals("PLAIN") && !p[1].equals("TYPED")) {
          throw new ConfigException(path, "Invalid filter state serialize type, only support PLAIN/TYPED: " + p[1]);
        }
        String key = p[0];
        boolean plain = p.length == 2 && p[1].equals("PLAIN");
        e = (info, req, resp, now) -> filterState(info, key, plain);
        return new Command(e, maxLen);
      }
      case "DYNAMIC_METADATA" -> {
        if (arg == null || arg.isEmpty()) {
          throw new ConfigException(path, "DYNAMIC_METADATA requires parameters");
        }
        String[] p = arg.split(":", -1);
        for (String k : p) {
          if (k.isEmpty()) {
            throw new ConfigException(path, "DYNAMIC_METADATA(" + arg + "): empty namespace or key");
          }
        }
        String ns = p[0];
        String[] keys = java.util.Arrays.copyOfRange(p, 1, p.length);
        e = (info, req, resp, now) -> Metadata.text(Metadata.lookup(info.dynamicMetadata(ns), keys));
        Extractor j =
            (info, req, resp, now) -> {
              com.google.protobuf.Value v = Metadata.lookup(info.dynamicMetadata(ns), keys);
              if (v != null && maxLen >= 0 && v.getKindCase() == com.google.protobuf.Value.KindCase.STRING_VALUE
                  && v.getStringValue().length() > maxLen) {
                v = com.google.protobuf.Value.newBuilder().setStringValue(v.getStringValue().substring(0, maxLen)).build();
              }
              return v == null ? null : Metadata.json(v);
            };
        return new Command(e, maxLen, false, j);
      }
      default -> {
        // fall through to argument-less commands
      }
    }
    if (arg != null) {
      throw new ConfigException(path, name + " does not take parameters");
    }
    e =
        switch (name) {
          case "DOWNSTREAM_REMOTE_ADDRESS" -> (i, q, r, n) -> address(i.downstreamRemoteAddress(), true);
          case "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT" ->
              (i, q, r, n) -> address(i.downstreamRemoteAddress(), false);
          case "DOWNSTREAM_LOCAL_ADDRESS" -> (i, q, r, n) -> address(i.downstreamLocalAddress(), true);
          case "DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT" ->
              (i, q, r, n) -> address(i.downstreamLocalAddress(), false);
          case "DOWNSTREAM_REMOTE_PORT" -> (i, q, r, n) -> port(i.downstreamRemoteAddress());
          case "DOWNSTREAM_LOCAL_PORT" -> (i, q, r, n) -> port(i.downstreamLocalAddress());
          case "UPSTREAM_HOST" -> (i, q, r, n) -> emptyToNull(i.upstreamHost());
          case "UPSTREAM_CLUSTER" -> (i, q, r, n) -> emptyToNull(i.upstreamCluster());
          case "ROUTE_NAME" -> (i, q, r, n) -> emptyToNull(i.routeName());
          case "PROTOCOL" -> (i, q, r, n) -> emptyToNull(i.protocol());
          case "HOSTNAME" -> (i, q, r, n) -> HOSTNAME;
          case "RESPONSE_CODE" -> (i, q, r, n) -> Integer.toString(i.responseCode());
          case "RESPONSE_CODE_DETAILS" -> (i, q, r, n) -> emptyToNull(i.responseCodeDetails());
          case "RESPONSE_FLAGS" -> (i, q, r, n) -> ResponseFlag.format(i.responseFlags());
          case "BYTES_RECEIVED" -> (i, q, r, n) -> Long.toString(i.bytesReceived());
          case "BYTES_SENT" -> (i, q, r, n) -> Long.toString(i.bytesSent());
          case "DURATION" -> (i, q, r, n) -> Long.toString((n - i.startNanos()) / 1_000_000L);
          case "REQUEST_DURATION" -> (i, q, r, n) -> sinceStart(i, i.lastDownstreamRxNanos());
          case "RESPONSE_DURATION" -> (i, q, r, n) -> sinceStart(i, i.firstUpstreamRxNanos());
          case "RESPONSE_TX_DURATION" -> (i, q, r, n) -> between(i.firstUpstreamRxNanos(), i.lastDownstreamTxNanos());
          case "REQUESTED_SERVER_NAME" -> (i, q, r, n) -> emptyToNull(i.requestedServerName());
          case "CONNECTION_ID" -> (i, q, r, n) -> i.connectionId() < 0 ? null : Long.toString(i.connectionId());
          case "UPSTREAM_LOCAL_ADDRESS" -> (i, q, r, n) -> address(i.upstreamLocalAddress(), true);
          case "UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT" -> (i, q, r, n) -> address(i.upstreamLocalAddress(), false);
          case "UPSTREAM_LOCAL_PORT" -> (i, q, r, n) -> port(i.upstreamLocalAddress());
          case "UPSTREAM_REMOTE_ADDRESS" ->
              (i, q, r, n) -> i.upstreamRemoteAddress() != null
                  ? address(i.upstreamRemoteAddress(), true) : emptyToNull(i.upstreamHost());
          case "UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT" ->
              (i, q, r, n) -> i.upstreamRemoteAddress() != null
                  ? address(i.upstreamRemoteAddress(), false) : hostWithoutPort(i.upstreamHost());
          case "UPSTREAM_REMOTE_PORT" ->
              (i, q, r, n) -> i.upstreamRemoteAddress() != null
                  ? port(i.upstreamRemoteAddress()) : portOf(i.upstreamHost());
          case "UPSTREAM_TRANSPORT_FAILURE_REASON" ->
              (i, q, r, n) -> {
                String s = emptyToNull(i.upstreamTransportFailureReason());
                return s == null ? null : s.replace(' ', '_');
              };
          case "TRACE_ID" -> (i, q, r, n) -> emptyToNull(i.traceId());
          default -> throw new ConfigException(path, "Not supported field in StreamInfo: " + name);
        };
    boolean numeric =
        switch (name) {
          case "RESPONSE_CODE", "BYTES_RECEIVED", "BYTES_SENT", "DURATION", "REQUEST_DURATION",
              "RESPONSE_DURATION", "RESPONSE_TX_DURATION", "CONNECTION_ID", "DOWNSTREAM_REMOTE_PORT",
              "DOWNSTREAM_LOCAL_PORT", "UPSTREAM_LOCAL_PORT", "UPSTREAM_REMOTE_PORT" -> true;
          default -> false;
        };
    return new Command(e, maxLen, numeric, null);
  }

  private static String header(Http2Headers h, AsciiString main, AsciiString fallback) {
    if (h == null) {
      return null;
    }
    CharSequence v = h.get(main);
    if (v == null && fallback != null) {
      v = h.get(fallback);
    }
    return v == null ? null : v.toString();
  }

  private static final com.google.protobuf.util.JsonFormat.Printer FILTER_STATE_JSON =
      com.google.protobuf.util.JsonFormat.printer().preservingProtoFieldNames().omittingInsignificantWhitespace();

  private static String filterState(StreamInfo info, String key, boolean plain) {
    io.legate.http.FilterState.StateObject o = info.filterState(key);
    if (o == null) {
      return null;
    }
    if (plain) {
      return o.serializeAsString();
    }
    com.google.protobuf.Message m = o.serializeAsProto();
    if (m == null) {
      return null;
    }
    try {
      return FILTER_STATE_JSON.print(m);
    } catch (com.google.protobuf.InvalidProtocolBufferException ex) {
      return null;
    }
  }

  /** Whole ms from the stream's start to {@code nanos}, or null when that point was not reached. */
  private static String sinceStart(StreamInfo info, long nanos) {
    return nanos == StreamInfo.UNSET ? null : Long.toString((nanos - info.startNanos()) / 1_000_000L);
  }

  private static String between(long fromNanos, long toNanos) {
    if (fromNanos == StreamInfo.UNSET || toNanos == StreamInfo.UNSET) {
      return null;
    }
    return Long.toString((toNanos - fromNanos) / 1_000_000L);
  }

  /** {@code 1.2.3.4:80} → {@code 1.2.3.4}, {@code [::1]:80} → {@code ::1}. */
  private static String hostWithoutPort(String hostAndPort) {
    if (hostAndPort == null || hostAndPort.isEmpty()) {
      return null;
    }
    int colon = hostAndPort.lastIndexOf(':');
    String h = colon < 0 ? hostAndPort : hostAndPort.substring(0, colon);
    return h.startsWith("[") && h.endsWith("]") ? h.substring(1, h.length() - 1) : h;
  }

  private static String portOf(String hostAndPort) {
    if (hostAndPort == null) {
      return null;
    }
    int colon = hostAndPort.lastIndexOf(':');
    return colon < 0 ? null : hostAndPort.substring(colon + 1);
  }

  private static String emptyToNull(String s) {
    return s == null || s.isEmpty() ? null : s;
  }

  private static String port(InetSocketAddress a) {
    return a == null ? null : Integer.toString(a.getPort());
  }

  /** Returns the address as Envoy prints it: {@code 1.2.3.4:80}, {@code [::1]:80}. */
  public static String address(InetSocketAddress a, boolean withPort) {
    if (a == null) {
      return null;
    }
    InetAddress ip = a.getAddress();
    String host = ip == null ? a.getHostString() : ipString(ip);
    if (!withPort) {
      return host;
    }
    return (ip instanceof Inet6Address ? "[" + host + "]" : host) + ":" + a.getPort();
  }

  /** Returns an IP in its canonical text form (RFC 5952 for IPv6, no scope). */
  public static String ipString(InetAddress ip) {
    if (!(ip instanceof Inet6Address)) {
      return ip.getHostAddress();
    }
    byte[] b = ip.getAddress();
    int[] g = new int[8];
    for (int i = 0; i < 8; i++) {
      g[i] = ((b[2 * i] & 0xff) << 8) | (b[2 * i + 1] & 0xff);
    }
    int bestStart = -1;
    int bestLen = 0;
    for (int i = 0; i < 8; ) {
      if (g[i] != 0) {
        i++;
        continue;
      }
      int j = i;
      while (j < 8 && g[j] == 0) {
        j++;
      }
      if (j - i > bestLen) {
        bestStart = i;
        bestLen = j - i;
      }
      i = j;
    }
    if (bestLen < 2) {
      bestStart = -1;
    }
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 8; i++) {
      if (i == bestStart) {
        sb.append("::");
        i += bestLen - 1;
        continue;
      }
      if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') {
        sb.append(':');
      }
      sb.append(Integer.toHexString(g[i]));
    }
    return sb.toString();
  }

  private static String hostname() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (Exception e) {
      return null;
    }
  }
}

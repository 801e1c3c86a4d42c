package io.legate.accesslog;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.envoyproxy.envoy.config.accesslog.v3.AccessLog.ConfigTypeCase;
import io.envoyproxy.envoy.config.core.v3.SubstitutionFormatString;
import io.envoyproxy.envoy.extensions.access_loggers.file.v3.FileAccessLog;
import io.envoyproxy.envoy.extensions.access_loggers.stream.v3.StderrAccessLog;
import io.envoyproxy.envoy.extensions.access_loggers.stream.v3.StdoutAccessLog;
import io.legate.config.ConfigException;
import io.legate.config.ConfigLoader;
import io.legate.config.JsonStrings;
import io.legate.formatter.Formatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Builds access loggers from Envoy's {@code access_log} entries. */
public final class AccessLogs {
  /** Envoy's default access log format. */
  public static final String DEFAULT_FORMAT =
      "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE%"
          + " %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION%"
          + " %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\""
          + " \"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\"\n";

  private static final String FILE = "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog";
  private static final String STDOUT = "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog";
  private static final String STDERR = "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog";

  private static final String HTTP_GRPC =
      "type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig";

  private static final String OPEN_TELEMETRY =
      "type.googleapis.com/envoy.extensions.access_loggers.open_telemetry.v3.OpenTelemetryAccessLogConfig";

  private AccessLogs() {}

  /** Sets the node that gRPC access logs send in their stream identifier (the server's {@code node}). */
  public static void setLocalNode(io.envoyproxy.envoy.config.core.v3.Node node) {
    GrpcAccessLog.setLocalNode(node);
  }

  /** Makes every access-log file reopen its path before its next write (admin {@code /reopen_logs}). */
  public static void reopenAll() {
    AsyncLogWriter.reopenAll();
  }

  /**
   * Builds the loggers of one {@code access_log} list; {@code clusters} resolves the gRPC services of
   * {@code envoy.access_loggers.http_grpc} (null when there is none, which refuses that logger).
   */
  public static List<AccessLog> build(List<io.envoyproxy.envoy.config.accesslog.v3.AccessLog> protos, String path,
      io.legate.upstream.ClusterManager clusters) {
    List<AccessLog> out = new ArrayList<>();
    for (int i = 0; i < protos.size(); i++) {
      out.add(build(protos.get(i), path + "[" + i + "]", clusters));
    }
    return List.copyOf(out);
  }

  /** Builds the loggers of one {@code access_log} list. */
  public static List<AccessLog> build(List<io.envoyproxy.envoy.config.accesslog.v3.AccessLog> protos, String path) {
    return build(protos, path, null);
  }

  static AccessLog build(io.envoyproxy.envoy.config.accesslog.v3.AccessLog p, String path) {
    return build(p, path, null);
  }

  static AccessLog build(io.envoyproxy.envoy.config.accesslog.v3.AccessLog p, String path,
      io.legate.upstream.ClusterManager clusters) {
    if (!p.hasFilter()) {
      return logger(p, path, clusters);
    }
    AccessLogFilters.Check filter = AccessLogFilters.build(p.getFilter(), path + ".filter");
    AccessLog log = logger(p, path, clusters);
    return info -> {
      if (filter.test(info, System.nanoTime())) {
        log.log(info);
      }
    };
  }

  private static AccessLog logger(io.envoyproxy.envoy.config.accesslog.v3.AccessLog p, String path,
      io.legate.upstream.ClusterManager clusters) {
    if (p.getConfigTypeCase() != ConfigTypeCase.TYPED_CONFIG) {
      throw new ConfigException(path + ".typed_config", "an access logger needs a typed_config");
    }
    String type = p.getTypedConfig().getTypeUrl();
    String tp = path + ".typed_config";
    switch (type) {
      case FILE -> {
        FileAccessLog f = ConfigLoader.unpack(p.getTypedConfig(), FileAccessLog.class, tp);
        if (f.getPath().isEmpty()) {
          throw new ConfigException(tp + ".path", "value length must be at least 1 characters");
        }
        Entry e = entry(f, tp);
        AsyncLogWriter w =
            f.getPath().equals("/dev/stdout")
                ? AsyncLogWriter.stdout()
                : f.getPath().equals("/dev/stderr") ? AsyncLogWriter.stderr() : AsyncLogWriter.file(f.getPath(), tp + ".path");
        return info -> w.write(e.format(info));
      }
      case STDOUT -> {
        StdoutAccessLog s = ConfigLoader.unpack(p.getTypedConfig(), StdoutAccessLog.class, tp);
        Entry e = s.hasLogFormat() ? entry(s.getLogFormat(), tp + ".log_format") : Entry.text(DEFAULT_FORMAT, tp);
        AsyncLogWriter w = AsyncLogWriter.stdout();
        return info -> w.write(e.format(info));
      }
      case STDERR -> {
        StderrAccessLog s = ConfigLoader.unpack(p.getTypedConfig(), StderrAccessLog.class, tp);
        Entry e = s.hasLogFormat() ? entry(s.getLogFormat(), tp + ".log_format") : Entry.text(DEFAULT_FORMAT, tp);
        AsyncLogWriter w = AsyncLogWriter.stderr();
        return info -> w.write(e.format(info));
      }
      case HTTP_GRPC -> {
        var c = ConfigLoader.unpack(p.getTypedConfig(),
            io.envoyproxy.envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig.class, tp);
        return GrpcAccessLog.create(c, tp, clusters);
      }
      case OPEN_TELEMETRY -> {
        var c = ConfigLoader.unpack(p.getTypedConfig(),
            io.envoyproxy.envoy.extensions.access_loggers.open_telemetry.v3.OpenTelemetryAccessLogConfig.class, tp);
        return OpenTelemetryAccessLog.create(c, tp, clusters);
      }
      default -> throw new ConfigException(
          tp, "unsupported access logger '" + p.getName() + "' (" + type + "); supported: envoy.access_loggers.file, envoy.access_loggers.stdout, envoy.access_loggers.stderr, envoy.access_loggers.http_grpc, envoy.access_loggers.open_telemetry");
    }
  }

  private static Entry entry(FileAccessLog f, String path) {
    return switch (f.getAccessLogFormatCase()) {
      case FORMAT -> Entry.text(f.getFormat(), path + ".format");
      case JSON_FORMAT -> Entry.json(f.getJsonFormat(), path + ".json_format");
      case TYPED_JSON_FORMAT -> Entry.json(f.getTypedJsonFormat(), path + ".typed_json_format");
      case LOG_FORMAT -> entry(f.getLogFormat(), path + ".log_format");
      default -> Entry.text(DEFAULT_FORMAT, path);
    };
  }

  private static Entry entry(SubstitutionFormatString s, String path) {
    if (s.getFormattersCount() > 0) {
      throw new ConfigException(path + ".formatters", "formatter extensions are not supported yet");
    }
    return switch (s.getFormatCase()) {
      case TEXT_FORMAT -> Entry.text(s.getTextFormat(), path + ".text_format");
      case TEXT_FORMAT_SOURCE -> {
        if (!s.getTextFormatSource().hasInlineString()) {
          throw new ConfigException(path + ".text_format_source", "only inline_string is supported");
        }
        yield Entry.text(s.getTextFormatSource().getInlineString(), path + ".text_format_source.inline_string");
      }
      case JSON_FORMAT -> Entry.json(s.getJsonFormat(), path + ".json_format");
      default -> Entry.text(DEFAULT_FORMAT, path);
    };
  }

  /** A compiled line format: text, or a JSON object whose values are format strings. */
  interface Entry {
    String format(io.legate.http.StreamInfo info);

    static Entry text(String format, String path) {
      Formatter f = Formatter.parse(format, path);
      return f::format;
    }

    static Entry json(Struct struct, String path) {
      Map<String, Formatter> fields = new LinkedHashMap<>();
      for (Map.Entry<String, Value> e : struct.getFieldsMap().entrySet()) {
        if (e.getValue().getKindCase() != Value.KindCase.STRING_VALUE) {
          throw new ConfigException(path + "." + e.getKey(), "only string values are supported in json_format");
        }
        fields.put(e.getKey(), Formatter.parse(e.getValue().getStringValue(), path + "." + e.getKey()));
      }
      return info -> {
        StringBuilder sb = new StringBuilder(128).append('{');
        boolean first = true;
        for (Map.Entry<String, Formatter> e : fields.entrySet()) {
          if (!first) {
            sb.append(',');
          }
          first = false;
          JsonStrings.quote(sb, e.getKey());
          sb.append(':');
          sb.append(e.getValue().formatJson(info));
        }
        return sb.append("}\n").toString();
      };
    }
  }
}

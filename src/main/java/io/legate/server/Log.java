package io.legate.server;

import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/** Envoy-style log lines on stderr: {@code [time][thread][level][component] message}. */
public final class Log {
  public enum Level {
    TRACE,
    DEBUG,
    INFO,
    WARN,
    ERROR,
    CRITICAL,
    OFF
  }

  private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS");
  private static volatile Level level = Level.INFO;

  private Log() {}

  /** Sets the level from Envoy's names (trace, debug, info, warning/warn, error, critical, off). */
  public static void setLevel(String name) {
    level = parse(name);
  }

  public static Level parse(String name) {
    return switch (name.toLowerCase(Locale.ROOT)) {
      case "trace" -> Level.TRACE;
      case "debug" -> Level.DEBUG;
      case "info" -> Level.INFO;
      case "warn", "warning" -> Level.WARN;
      case "error" -> Level.ERROR;
      case "critical" -> Level.CRITICAL;
      case "off" -> Level.OFF;
      default -> throw new IllegalArgumentException(
          "invalid log level '" + name + "' (trace, debug, info, warning, error, critical, off)");
    };
  }

  public static String level() {
    return level.name().toLowerCase(Locale.ROOT);
  }

  public static boolean enabled(Level l) {
    return l.ordinal() >= level.ordinal() && level != Level.OFF;
  }

  public static void info(String component, String msg) {
    log(Level.INFO, component, msg);
  }

  public static void warn(String component, String msg) {
    log(Level.WARN, component, msg);
  }

  public static void error(String component, String msg) {
    log(Level.ERROR, component, msg);
  }

  public static void debug(String component, String msg) {
    log(Level.DEBUG, component, msg);
  }

  public static void log(Level l, String component, String msg) {
    if (!enabled(l)) {
      return;
    }
    String name = l == Level.WARN ? "warning" : l.name().toLowerCase(Locale.ROOT);
    System.err.println(
        "[" + LocalDateTime.now().format(TIME) + "][" + Thread.currentThread().getId() + "][" + name + "][" + component + "] " + msg);
  }

  /** Returns every live thread's name, state and stack, for a watchdog that found the process stuck. */
  public static String threadDump() {
    StringBuilder b = new StringBuilder();
    for (var e : Thread.getAllStackTraces().entrySet()) {
      Thread t = e.getKey();
      b.append('"').append(t.getName()).append('"').append(t.isDaemon() ? " daemon" : "").append(' ')
          .append(t.getState()).append('\n');
      for (StackTraceElement f : e.getValue()) {
        b.append("    at ").append(f).append('\n');
      }
    }
    return b.toString();
  }
}

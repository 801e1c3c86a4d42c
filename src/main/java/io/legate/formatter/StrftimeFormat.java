package io.legate.formatter;

import io.legate.config.ConfigException;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;

/**
 * A compiled strftime-style time format, in UTC, with Envoy's extensions: {@code %f} and
 * {@code %1f}..{@code %9f} (fractional seconds, default 9 digits), {@code %s} (epoch seconds) and
 * absl's {@code %E3S}/{@code %E6S}/{@code %E9S} (seconds with fraction).
 */
final class StrftimeFormat {
  /** Envoy's default {@code %START_TIME%} format. */
  static final String DEFAULT = "%Y-%m-%dT%H:%M:%E3SZ";

  private static final String[] DAYS = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  private static final String[] DAYS_LONG = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"
  };
  private static final String[] MONTHS = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
  };
  private static final String[] MONTHS_LONG = {
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December"
  };

  private final List<Object> parts; // String literal or Character spec or Integer -digits (fraction)

  private StrftimeFormat(List<Object> parts) {
    this.parts = List.copyOf(parts);
  }

  static StrftimeFormat compile(String format, String path) {
    List<Object> parts = new ArrayList<>();
    StringBuilder lit = new StringBuilder();
    for (int i = 0; i < format.length(); i++) {
      char c = format.charAt(i);
      if (c != '%' || i + 1 >= format.length()) {
        lit.append(c);
        continue;
      }
      char n = format.charAt(++i);
      Object spec;
      if (n >= '1' && n <= '9' && i + 1 < format.length() && format.charAt(i + 1) == 'f') {
        spec = new Fraction(n - '0', false);
        i++;
      } else if (n == 'E' && i + 2 < format.length() && format.charAt(i + 2) == 'S'
          && "369".indexOf(format.charAt(i + 1)) >= 0) {
        spec = new Fraction(format.charAt(i + 1) - '0', true);
        i += 2;
      } else if (n == '%') {
        lit.append('%');
        continue;
      } else if ("YmdHMSyjeaAbBhpIzZTFDRsfnt".indexOf(n) >= 0) {
        spec = n;
      } else {
        throw new ConfigException(path, "unsupported time format specifier '%" + n + "' in '" + format + "'");
      }
      if (lit.length() > 0) {
        parts.add(lit.toString());
        lit.setLength(0);
      }
      parts.add(spec);
    }
    if (lit.length() > 0) {
      parts.add(lit.toString());
    }
    return new StrftimeFormat(parts);
  }

  private record Fraction(int digits, boolean withSeconds) {}

  /** Formats a wall-clock time given as epoch millis plus extra nanos (0-999999). */
  String format(long epochMillis, int extraNanos, long unusedMonotonic) {
    Instant instant = Instant.ofEpochMilli(epochMillis).plusNanos(extraNanos);
    ZonedDateTime t = instant.atZone(ZoneOffset.UTC);
    StringBuilder sb = new StringBuilder(32);
    for (Object p : parts) {
      if (p instanceof String s) {
        sb.append(s);
      } else if (p instanceof Fraction f) {
        if (f.withSeconds) {
          pad(sb, t.getSecond(), 2);
          sb.append('.');
        }
        appendFraction(sb, t.getNano(), f.digits);
      } else {
        char c = (Character) p;
        switch (c) {
          case 'Y' -> sb.append(t.getYear());
          case 'm' -> pad(sb, t.getMonthValue(), 2);
          case 'd' -> pad(sb, t.getDayOfMonth(), 2);
          case 'e' -> {
            if (t.getDayOfMonth() < 10) {
              sb.append(' ');
            }
            sb.append(t.getDayOfMonth());
          }
          case 'H' -> pad(sb, t.getHour(), 2);
          case 'I' -> pad(sb, t.getHour() % 12 == 0 ? 12 : t.getHour() % 12, 2);
          case 'p' -> sb.append(t.getHour() < 12 ? "AM" : "PM");
          case 'M' -> pad(sb, t.getMinute(), 2);
          case 'S' -> pad(sb, t.getSecond(), 2);
          case 'y' -> pad(sb, t.getYear() % 100, 2);
          case 'j' -> pad(sb, t.getDayOfYear(), 3);
          case 'a' -> sb.append(DAYS[t.getDayOfWeek().ordinal()]);
          case 'A' -> sb.append(DAYS_LONG[t.getDayOfWeek().ordinal()]);
          case 'b', 'h' -> sb.append(MONTHS[t.getMonthValue() - 1]);
          case 'B' -> sb.append(MONTHS_LONG[t.getMonthValue() - 1]);
          case 'z' -> sb.append("+0000");
          case 'Z' -> sb.append("UTC");
          case 'T' -> {
            pad(sb, t.getHour(), 2);
            sb.append(':');
            pad(sb, t.getMinute(), 2);
            sb.append(':');
            pad(sb, t.getSecond(), 2);
          }
          case 'R' -> {
            pad(sb, t.getHour(), 2);
            sb.append(':');
            pad(sb, t.getMinute(), 2);
          }
          case 'F' -> {
            sb.append(t.getYear()).append('-');
            pad(sb, t.getMonthValue(), 2);
            sb.append('-');
            pad(sb, t.getDayOfMonth(), 2);
          }
          case 'D' -> {
            pad(sb, t.getMonthValue(), 2);
            sb.append('/');
            pad(sb, t.getDayOfMonth(), 2);
            sb.append('/');
            pad(sb, t.getYear() % 100, 2);
          }
          case 's' -> sb.append(Math.floorDiv(epochMillis, 1000L));
          case 'f' -> appendFraction(sb, t.getNano(), 9);
          case 'n' -> sb.append('\n');
          case 't' -> sb.append('\t');
          default -> throw new IllegalStateException("unreachable: " + c);
        }
      }
    }
    return sb.toString();
  }

  private static void appendFraction(StringBuilder sb, int nanos, int digits) {
    String s = Integer.toString(nanos);
    for (int i = s.length(); i < 9; i++) {
      sb.append('0');
    }
    int start = sb.length() - (9 - s.length());
    sb.append(s);
    sb.setLength(start + digits);
  }

  private static void pad(StringBuilder sb, int v, int width) {
    String s = Integer.toString(v);
    for (int i = s.length(); i < width; i++) {
      sb.append('0');
    }
    sb.append(s);
  }
}

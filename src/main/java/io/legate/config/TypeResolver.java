package io.legate.config;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import java.lang.reflect.Method;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Resolves protobuf type names (from {@code @type} URLs) to generated classes without scanning the
 * class path, and keeps a process-wide {@link JsonFormat.TypeRegistry} of every type resolved so far.
 *
 * <p>A type {@code envoy.a.v3.Foo.Bar} is looked up as class {@code io.envoyproxy.envoy.a.v3.Foo$Bar}
 * (Envoy's protos use {@code java_multiple_files}); other roots are mapped the same way (see
 * {@link #JAVA_PACKAGES}). Types not found that way are searched for in the files already loaded.
 * Thread-safe.
 */
final class TypeResolver {
  /** Proto package prefix to Java package prefix, longest first. */
  private static final Map<String, String> JAVA_PACKAGES = new LinkedHashMap<>();

  static {
    JAVA_PACKAGES.put("google.protobuf.", "com.google.protobuf.");
    JAVA_PACKAGES.put("google.rpc.", "com.google.rpc.");
    JAVA_PACKAGES.put("google.api.", "com.google.api.");
    JAVA_PACKAGES.put("envoy.", "io.envoyproxy.envoy.");
    JAVA_PACKAGES.put("xds.", "com.github.xds.");
    JAVA_PACKAGES.put("udpa.", "com.github.udpa.udpa.");
    JAVA_PACKAGES.put("validate.", "io.envoyproxy.pgv.validate.");
    JAVA_PACKAGES.put("opentelemetry.proto.", "io.opentelemetry.proto.");
    JAVA_PACKAGES.put("io.prometheus.client.", "io.prometheus.client.");
    JAVA_PACKAGES.put("cel.expr.", "dev.cel.expr.");
  }

  private static final TypeResolver INSTANCE = new TypeResolver();

  private final ConcurrentHashMap<String, Optional<Message>> byName = new ConcurrentHashMap<>();
  private final Set<Descriptor> registered = ConcurrentHashMap.newKeySet();
  private final Object registryLock = new Object();
  private volatile JsonFormat.TypeRegistry registry = JsonFormat.TypeRegistry.getEmptyTypeRegistry();

  static TypeResolver get() {
    return INSTANCE;
  }

  /**
   * Returns the default instance of the message named by a type URL ({@code type.googleapis.com/x.y.Z},
   * or just {@code x.y.Z}), or empty when no generated class is known for it.
   */
  Optional<Message> resolveUrl(String typeUrl) {
    return resolveName(typeUrl.substring(typeUrl.lastIndexOf('/') + 1));
  }

  /** Returns the default instance of the message with the given full proto name, or empty. */
  Optional<Message> resolveName(String fullName) {
    Optional<Message> cached = byName.get(fullName);
    if (cached != null) {
      return cached;
    }
    Optional<Message> found = Optional.ofNullable(load(fullName));
    byName.putIfAbsent(fullName, found);
    return found;
  }

  /** Adds the given types (and the files they need) to the process-wide registry. */
  void register(Collection<Descriptor> types) {
    boolean changed = false;
    for (Descriptor d : types) {
      if (!registered.contains(d)) {
        changed = true;
        break;
      }
    }
    if (!changed) {
      return;
    }
    synchronized (registryLock) {
      registered.addAll(types);
      registry = JsonFormat.TypeRegistry.newBuilder().add(registered).build();
    }
  }

  /** Returns the registry of every type resolved or registered so far. */
  JsonFormat.TypeRegistry registry() {
    return registry;
  }

  private Message load(String fullName) {
    for (Map.Entry<String, String> root : JAVA_PACKAGES.entrySet()) {
      if (fullName.startsWith(root.getKey())) {
        Message m = loadClass(root.getValue(), fullName.substring(root.getKey().length()), fullName);
        if (m != null) {
          return m;
        }
        break;
      }
    }
    return searchLoadedFiles(fullName);
  }

  /** Tries {@code javaPrefix + pkg + "." + Outer$Inner}, splitting the name where names start upper case. */
  private static Message loadClass(String javaPrefix, String rest, String fullName) {
    String[] parts = rest.split("\\.");
    int firstType = 0;
    while (firstType < parts.length && !Character.isUpperCase(parts[firstType].charAt(0))) {
      firstType++;
    }
    if (firstType == parts.length) {
      return null;
    }
    StringBuilder cls = new StringBuilder(javaPrefix);
    for (int i = 0; i < parts.length; i++) {
      if (i > 0) {
        cls.append(i <= firstType ? '.' : '$');
      }
      cls.append(parts[i]);
    }
    try {
      Class<?> c = Class.forName(cls.toString(), true, TypeResolver.class.getClassLoader());
      if (!Message.class.isAssignableFrom(c)) {
        return null;
      }
      Method m = c.getMethod("getDefaultInstance");
      Message instance = (Message) m.invoke(null);
      return instance.getDescriptorForType().getFullName().equals(fullName) ? instance : null;
    } catch (ReflectiveOperationException | LinkageError | ClassCastException e) {
      return null;
    }
  }

  /** Looks for the type in every file already loaded (the registered types' files and imports). */
  private Message searchLoadedFiles(String fullName) {
    Set<FileDescriptor> seen = new HashSet<>();
    Deque<FileDescriptor> queue = new ArrayDeque<>();
    for (Descriptor d : registered) {
      queue.add(d.getFile());
    }
    while (!queue.isEmpty()) {
      FileDescriptor f = queue.poll();
      if (!seen.add(f)) {
        continue;
      }
      String pkg = f.getPackage();
      if (fullName.startsWith(pkg.isEmpty() ? "" : pkg + ".")) {
        String local = pkg.isEmpty() ? fullName : fullName.substring(pkg.length() + 1);
        Descriptor d = findIn(f, local);
        if (d != null) {
          Message m = instanceFor(d);
          if (m != null) {
            return m;
          }
        }
      }
      queue.addAll(f.getDependencies());
    }
    return null;
  }

  private static Descriptor findIn(FileDescriptor f, String local) {
    String[] parts = local.split("\\.");
    Descriptor d = f.findMessageTypeByName(parts[0]);
    for (int i = 1; d != null && i < parts.length; i++) {
      d = d.findNestedTypeByName(parts[i]);
    }
    return d;
  }

  /** Returns the generated default instance for a descriptor, found through its file's Java options. */
  private static Message instanceFor(Descriptor d) {
    var options = d.getFile().getOptions();
    String javaPkg = options.hasJavaPackage() ? options.getJavaPackage() : d.getFile().getPackage();
    String local = d.getFullName().substring(d.getFile().getPackage().isEmpty() ? 0 : d.getFile().getPackage().length() + 1);
    String nested = local.replace('.', '$');
    String candidate;
    if (options.getJavaMultipleFiles()) {
      candidate = javaPkg + "." + nested;
    } else {
      String outer = options.hasJavaOuterClassname() ? options.getJavaOuterClassname() : outerClassName(d.getFile());
      candidate = javaPkg + "." + outer + "$" + nested;
    }
    try {
      Class<?> c = Class.forName(candidate, true, TypeResolver.class.getClassLoader());
      return (Message) c.getMethod("getDefaultInstance").invoke(null);
    } catch (ReflectiveOperationException | LinkageError | ClassCastException e) {
      return null;
    }
  }

  private static String outerClassName(FileDescriptor f) {
    String base = f.getName().substring(f.getName().lastIndexOf('/') + 1).replace(".proto", "");
    StringBuilder sb = new StringBuilder();
    boolean upper = true;
    for (char ch : base.toCharArray()) {
      if (ch == '_' || ch == '-') {
        upper = true;
      } else {
        sb.append(upper ? Character.toUpperCase(ch) : ch);
        upper = Character.isDigit(ch);
      }
    }
    return sb.toString();
  }
}

package city.whistle.client;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@code java -jar whistle-department-client.jar --bootstrap HOST:PORT --dept CODE --secret S
 * [--once CASE_ID | --max N] [--timeout SECONDS] [--from-beginning] [--group G] [--result TEXT]}
 */
public final class Main {
    static final String USAGE = String.join("\n",
            "usage: java -jar whistle-department-client.jar --bootstrap HOST:PORT --dept CODE --secret SECRET",
            "           [--once CASE_ID | --max N] [--timeout SECONDS] [--from-beginning] [--group GROUP]",
            "           [--result TEXT]",
            "  --secret defaults to $WHISTLE_DEPT_SECRET; group defaults to java-dept-<dept>.",
            "  --once CASE_ID  handle only that case's order, reading the topic from the beginning",
            "                  without committing offsets (default timeout 120 s); exit 1 if not seen.",
            "  --max N         stop after N orders (exit 1 if the timeout comes first).",
            "  --timeout S     give up after S seconds (0 = never, the default without --once).");

    private Main() {
    }

    public static void main(String[] args) {
        DepartmentClient.Options opts;
        try {
            opts = parse(args);
        } catch (IllegalArgumentException e) {
            if (!e.getMessage().isEmpty()) {
                System.err.println(e.getMessage());
            }
            System.err.println(USAGE);
            System.exit(2);
            return;
        }
        DepartmentClient client = new DepartmentClient(opts, System.out);
        AtomicBoolean done = new AtomicBoolean();
        Thread main = Thread.currentThread();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (!done.get()) {
                client.wakeup();
                try {
                    main.join(10_000);
                } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                }
            }
        }));
        System.err.printf("consuming %s as group %s%s%n", client.topic(), opts.group(),
                opts.onlyCase() != null ? " for case " + opts.onlyCase() : "");
        int handled;
        try {
            handled = client.run();
        } finally {
            client.close();
            done.set(true);
        }
        boolean bounded = opts.onlyCase() != null || opts.max() != Integer.MAX_VALUE;
        System.err.printf("handled %d order(s)%n", handled);
        System.exit(bounded && handled < opts.max() ? 1 : 0);
    }

    static DepartmentClient.Options parse(String[] args) {
        String bootstrap = "127.0.0.1:9092";
        String dept = null;
        String secret = System.getenv("WHISTLE_DEPT_SECRET");
        String group = null;
        String once = null;
        String result = "已办结（Java 参考客户端）";
        Integer max = null;
        Long timeout = null;
        boolean fromBeginning = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--bootstrap" -> bootstrap = value(args, ++i, a);
                case "--dept" -> dept = value(args, ++i, a);
                case "--secret" -> secret = value(args, ++i, a);
                case "--group" -> group = value(args, ++i, a);
                case "--once" -> once = value(args, ++i, a);
                case "--result" -> result = value(args, ++i, a);
                case "--max" -> max = positive(value(args, ++i, a), a);
                case "--timeout" -> timeout = (long) nonNegative(value(args, ++i, a), a);
                case "--from-beginning" -> fromBeginning = true;
                case "-h", "--help" -> throw new IllegalArgumentException("");
                default -> throw new IllegalArgumentException("unknown argument " + a);
            }
        }
        if (dept == null || dept.isEmpty()) {
            throw new IllegalArgumentException("--dept is required");
        }
        if (secret == null || secret.isEmpty()) {
            throw new IllegalArgumentException("--secret (or WHISTLE_DEPT_SECRET) is required");
        }
        if (once != null && max != null) {
            throw new IllegalArgumentException("--once and --max exclude each other");
        }
        boolean commit = once == null;
        if (once != null) {
            max = 1;
            fromBeginning = true;
        }
        long seconds = timeout != null ? timeout : (once != null ? 120 : 0);
        return new DepartmentClient.Options(bootstrap, dept, secret,
                group != null ? group : "java-dept-" + dept, once, max != null ? max : Integer.MAX_VALUE,
                Duration.ofSeconds(seconds), fromBeginning, commit, result);
    }

    private static String value(String[] args, int i, String flag) {
        if (i >= args.length) {
            throw new IllegalArgumentException(flag + " needs a value");
        }
        return args[i];
    }

    private static int positive(String s, String flag) {
        int n = nonNegative(s, flag);
        if (n == 0) {
            throw new IllegalArgumentException(flag + " must be at least 1");
        }
        return n;
    }

    private static int nonNegative(String s, String flag) {
        try {
            int n = Integer.parseInt(s);
            if (n < 0) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(flag + " needs a non-negative integer, got " + s);
        }
    }
}

package org.vmspace.vkernel.sys;

/** Linux errno values returned to guests (as {@code -errno} in rax), with names for traces. */
public final class LinuxErrno {
  public static final int EPERM = 1;
  public static final int ENOENT = 2;
  public static final int ESRCH = 3;
  public static final int EINTR = 4;
  public static final int EIO = 5;
  public static final int ENXIO = 6;
  public static final int E2BIG = 7;
  public static final int ENOEXEC = 8;
  public static final int EBADF = 9;
  public static final int ECHILD = 10;
  public static final int EAGAIN = 11;
  public static final int ENOMEM = 12;
  public static final int EACCES = 13;
  public static final int EFAULT = 14;
  public static final int EBUSY = 16;
  public static final int EEXIST = 17;
  public static final int EXDEV = 18;
  public static final int ENODEV = 19;
  public static final int ENOTDIR = 20;
  public static final int EISDIR = 21;
  public static final int EINVAL = 22;
  public static final int ENFILE = 23;
  public static final int EMFILE = 24;
  public static final int ENOTTY = 25;
  public static final int ETXTBSY = 26;
  public static final int EFBIG = 27;
  public static final int ENOSPC = 28;
  public static final int ESPIPE = 29;
  public static final int EROFS = 30;
  public static final int EMLINK = 31;
  public static final int EPIPE = 32;
  public static final int EDOM = 33;
  public static final int ERANGE = 34;
  public static final int EDEADLK = 35;
  public static final int ENAMETOOLONG = 36;
  public static final int ENOSYS = 38;
  public static final int ENOTEMPTY = 39;
  public static final int ELOOP = 40;
  public static final int ENOMSG = 42;
  public static final int EIDRM = 43;
  public static final int ENODATA = 61;
  public static final int EOVERFLOW = 75;
  /** Accessing a corrupted shared library: an ELF interpreter that is not an x86-64 ELF image. */
  public static final int ELIBBAD = 80;
  public static final int ENOTSOCK = 88;
  public static final int EOPNOTSUPP = 95;
  public static final int EAFNOSUPPORT = 97;
  public static final int ETIMEDOUT = 110;
  public static final int EMSGSIZE = 90;
  public static final int EPROTOTYPE = 91;
  public static final int EADDRINUSE = 98;
  public static final int ENOBUFS = 105;
  public static final int EISCONN = 106;
  public static final int ENOTCONN = 107;
  public static final int ECONNREFUSED = 111;
  public static final int ENOPROTOOPT = 92;
  public static final int EPROTONOSUPPORT = 93;
  public static final int ESOCKTNOSUPPORT = 94;
  public static final int EADDRNOTAVAIL = 99;
  public static final int ENETUNREACH = 101;
  public static final int EALREADY = 114;
  public static final int EINPROGRESS = 115;
  /** Kernel-internal: restart the system call (never seen by guests). */
  public static final int ERESTARTSYS = 512;

  private static final String[] NAMES = new String[128];

  static {
    String[][] pairs = {
      {"1", "EPERM"}, {"2", "ENOENT"}, {"3", "ESRCH"}, {"4", "EINTR"}, {"5", "EIO"},
      {"6", "ENXIO"}, {"7", "E2BIG"}, {"8", "ENOEXEC"}, {"9", "EBADF"}, {"10", "ECHILD"},
      {"11", "EAGAIN"}, {"12", "ENOMEM"}, {"13", "EACCES"}, {"14", "EFAULT"}, {"16", "EBUSY"},
      {"17", "EEXIST"}, {"18", "EXDEV"}, {"19", "ENODEV"}, {"20", "ENOTDIR"}, {"21", "EISDIR"},
      {"22", "EINVAL"}, {"23", "ENFILE"}, {"24", "EMFILE"}, {"25", "ENOTTY"}, {"26", "ETXTBSY"},
      {"27", "EFBIG"}, {"28", "ENOSPC"}, {"29", "ESPIPE"}, {"30", "EROFS"}, {"31", "EMLINK"},
      {"32", "EPIPE"}, {"33", "EDOM"}, {"34", "ERANGE"}, {"35", "EDEADLK"}, {"36", "ENAMETOOLONG"},
      {"38", "ENOSYS"}, {"39", "ENOTEMPTY"}, {"40", "ELOOP"}, {"42", "ENOMSG"}, {"43", "EIDRM"}, {"61", "ENODATA"},
      {"75", "EOVERFLOW"}, {"80", "ELIBBAD"}, {"88", "ENOTSOCK"}, {"95", "EOPNOTSUPP"}, {"97", "EAFNOSUPPORT"},
      {"110", "ETIMEDOUT"}, {"90", "EMSGSIZE"}, {"91", "EPROTOTYPE"}, {"92", "ENOPROTOOPT"},
      {"93", "EPROTONOSUPPORT"}, {"94", "ESOCKTNOSUPPORT"}, {"98", "EADDRINUSE"}, {"99", "EADDRNOTAVAIL"},
      {"101", "ENETUNREACH"}, {"104", "ECONNRESET"}, {"105", "ENOBUFS"}, {"106", "EISCONN"}, {"107", "ENOTCONN"},
      {"111", "ECONNREFUSED"}, {"114", "EALREADY"}, {"115", "EINPROGRESS"},
    };
    for (String[] p : pairs) {
      NAMES[Integer.parseInt(p[0])] = p[1];
    }
  }

  private LinuxErrno() {}

  /** The name of an errno, e.g. {@code ENOENT}. */
  public static String name(int errno) {
    return errno > 0 && errno < NAMES.length && NAMES[errno] != null ? NAMES[errno] : "errno " + errno;
  }
}

/**
 * The KVM backend of the vmspace API. It exports no package: users reach it through {@link
 * org.vmspace.api.Vmspaces}, which finds it as a {@link org.vmspace.api.spi.VmspaceBackend}
 * provider. The page-table walker and the reference model of the MMU are opened to the page-table
 * test kit only, which checks the machine against the very code the service walks with.
 *
 * <p>It calls {@code ioctl}, {@code mmap} and friends through the FFM API, so the runtime must
 * grant it native access ({@code --enable-native-access=org.vmspace.kvm} on the module path,
 * {@code ALL-UNNAMED} on the class path).
 */
// The kit is a later module of the build: the qualified export names it before it exists.
@SuppressWarnings("module")
module org.vmspace.kvm {
  requires org.vmspace.api;
  requires org.vmspace.rbtree;
  requires com.google.common;
  // Off-by-default flight-recorder events for exits and revocations.
  requires jdk.jfr;

  exports org.vmspace.kvm.paging to
      org.vmspace.pagetest;

  provides org.vmspace.api.spi.VmspaceBackend with
      org.vmspace.kvm.service.KvmBackend;
}

package org.vmspace.pagetest;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * A JUnit 5 extension that gives each test (and its {@code @BeforeEach} methods) a fresh {@link
 * PageTableKit} as a parameter, and closes it after the test, whatever its result. Register it
 * with {@code @ExtendWith(PageTableExtension.class)} or {@link PageTableTest @PageTableTest}.
 *
 * <pre>{@code
 * @PageTableTest
 * class MyTest {
 *   @Test
 *   void userReadOfASupervisorPageFaults(PageTableKit kit) {
 *     kit.tables().map(0x400000, 0x200000, PageSize.SIZE_4K, P | RW);
 *     assertThat(kit.run(read(0x400000))).faultsWith(PF_USER | PF_PROT);
 *   }
 * }
 * }</pre>
 *
 * <p>Opening the kit needs KVM: where there is none, resolving the parameter fails with the
 * service's error (never a skip).
 */
public final class PageTableExtension implements ParameterResolver, AfterEachCallback {
  private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(PageTableExtension.class);
  private static final String KEY = "kit";

  /** The extension, for {@code @ExtendWith}. */
  public PageTableExtension() {}

  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
    return parameter.getParameter().getType() == PageTableKit.class;
  }

  @Override
  public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
    if (context.getTestMethod().isEmpty()) {
      throw new org.junit.jupiter.api.extension.ParameterResolutionException(
          "a PageTableKit is per test: take it in a test or @BeforeEach method, not in " + parameter.getDeclaringExecutable());
    }
    return context.getStore(NAMESPACE).getOrComputeIfAbsent(KEY, k -> PageTableKit.open(), PageTableKit.class);
  }

  @Override
  public void afterEach(ExtensionContext context) {
    PageTableKit kit = context.getStore(NAMESPACE).remove(KEY, PageTableKit.class);
    if (kit != null) {
      kit.close();
    }
  }
}

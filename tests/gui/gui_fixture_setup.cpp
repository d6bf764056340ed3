// Builds the GUI tests' run store once, before the GUI tests run in parallel (CTest fixture
// "gui_data"); exits non-zero when a fixture command failed.
#include <cstdio>

#include "gui_fixture.h"

int main() {
  const auto& f = skvq::test::gui_fixture();
  if (f.db.isEmpty()) {
    std::fprintf(stderr, "gui fixture: building the run store failed\n");
    return 1;
  }
  std::printf("gui fixture ready: %s\n", qPrintable(f.db));
  return 0;
}

// SPDX-License-Identifier: MIT
// cxxthrow - C++ exceptions thrown through many frames in several threads
// must unwind exactly as natively: the shim's stack capture must not
// replace or disturb the workload's unwinder.
#include <cstdio>
#include <stdexcept>
#include <thread>
#include <vector>
#include <sys/mman.h>

static int deep(int n)
{
	if (n == 0)
		throw std::runtime_error("bottom");
	// a mapping per frame keeps the shim's hooks busy while unwinding
	void *p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int r = deep(n - 1) + 1;
	munmap(p, 4096);
	return r;
}

int main()
{
	std::vector<std::thread> ts;
	int caught[4] = {};

	for (int t = 0; t < 4; t++)
		ts.emplace_back([&caught, t] {
			for (int i = 0; i < 50; i++) {
				try {
					deep(20 + t);
				} catch (const std::runtime_error &e) {
					caught[t]++;
				}
			}
		});
	for (auto &t : ts)
		t.join();
	std::printf("caught %d %d %d %d\n", caught[0], caught[1], caught[2], caught[3]);
	return 0;
}

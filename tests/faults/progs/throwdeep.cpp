// SPDX-License-Identifier: MIT
// throwdeep - C++ exceptions thrown 40 frames deep and caught at the top,
// in 4 threads at once, with a rethrow and a destructor count on the way:
// the unwinder the program uses must be the one it has without the shim.
#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

static std::atomic<long> destroyed;

struct Guard {
	~Guard() { destroyed++; }
};

[[gnu::noinline]] static int dive(int depth, int id)
{
	Guard g;
	if (depth == 0)
		throw std::runtime_error("thread " + std::to_string(id));
	return dive(depth - 1, id) + 1;
}

[[gnu::noinline]] static int rethrow(int id)
{
	try {
		return dive(40, id);
	} catch (const std::runtime_error &) {
		throw;
	}
}

static void worker(int id, long *caught)
{
	for (int i = 0; i < 200; i++) {
		try {
			rethrow(id);
		} catch (const std::runtime_error &e) {
			if (e.what() == "thread " + std::to_string(id))
				(*caught)++;
		}
	}
}

int main()
{
	std::vector<long> caught(4, 0);
	std::vector<std::thread> threads;

	for (int i = 0; i < 4; i++)
		threads.emplace_back(worker, i, &caught[i]);
	for (auto &t : threads)
		t.join();
	for (int i = 0; i < 4; i++)
		std::printf("thread %d caught %ld\n", i, caught[i]);
	std::printf("destructors run: %ld\n", destroyed.load());
	return 0;
}

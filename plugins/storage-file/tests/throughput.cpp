// storage_file_throughput -- an informal probe, not a test: appends N records of B bytes to one queue with a sync
// every S records, then reads them all back, and prints the rates. Usage:
//   storage_file_throughput [records=200000] [body_bytes=256] [sync_every=1000] [dir=<temp>]
#include "StoreClient.h"

#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

using namespace storage_file_test;

int main(int argc, char **argv)
{
    const uint64_t records = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200000;
    const size_t bodyBytes = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 256;
    const uint64_t syncEvery = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 1000;
    const std::filesystem::path dir = argc > 4 ? std::filesystem::path(argv[4])
                                               : std::filesystem::temp_directory_path() / "ferry-sfile-throughput";
    std::filesystem::remove_all(dir);
    TestHost host;
    std::unique_ptr<StoreClient> store;
    std::string error;
    if (StoreClient::open(host, dir, {}, store, error) != FERRY_OK) {
        std::fprintf(stderr, "open: %s\n", error.c_str());
        return 1;
    }
    store->queueCreate(1);
    const std::string head(32, 'h');
    const std::string body(bodyBytes, 'b');
    const std::clock_t c0 = std::clock();
    const auto t0 = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < records; ++i) {
        if (store->append(1, i, head, body) != FERRY_OK) {
            std::fprintf(stderr, "append: %s\n", store->lastError.c_str());
            return 1;
        }
        if ((i + 1) % syncEvery == 0 && store->sync() != FERRY_OK) {
            std::fprintf(stderr, "sync: %s\n", store->lastError.c_str());
            return 1;
        }
    }
    store->sync();
    const auto t1 = std::chrono::steady_clock::now();
    const std::clock_t c1 = std::clock();
    uint64_t seen = 0;
    std::vector<RecordCopy> batch;
    for (uint64_t from = 0; from < records; from += batch.size()) {
        store->read(1, from, 1000, 0, batch);
        if (batch.empty())
            break;
        seen += batch.size();
    }
    const auto t2 = std::chrono::steady_clock::now();
    const double appendSeconds = std::chrono::duration<double>(t1 - t0).count();
    const double readSeconds = std::chrono::duration<double>(t2 - t1).count();
    std::printf("appended %llu records (%zu+%zu bytes) with a sync every %llu: %.0f appends/s, %.1f MB/s\n",
                static_cast<unsigned long long>(records), head.size(), bodyBytes,
                static_cast<unsigned long long>(syncEvery), records / appendSeconds,
                records * (head.size() + bodyBytes) / appendSeconds / 1e6);
    std::printf("append phase: %.2f s wall, %.2f s CPU (user+system) = %.2f us CPU per append\n", appendSeconds,
                double(c1 - c0) / CLOCKS_PER_SEC, double(c1 - c0) / CLOCKS_PER_SEC / records * 1e6);
    std::printf("read back %llu records in batches of 1000 (copying each into the test's vector): %.0f records/s\n",
                static_cast<unsigned long long>(seen), seen / readSeconds);
    store.reset();
    std::filesystem::remove_all(dir);
    return seen == records ? 0 : 1;
}

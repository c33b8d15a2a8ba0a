// replay_main.cpp: main() for a libFuzzer target built without libFuzzer (any compiler). Linked with a fuzz target's
// source as <target>_replay, it runs every file of the directories or files given on the command line through that
// target's LLVMFuzzerTestOneInput, so CTest proves a committed corpus still passes (the *.fuzz_corpus_replay tests).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

// Runs every regular file under the given paths (directories are walked, sorted by name) through the target.
int main(int argc, char **argv)
{
    namespace fs = std::filesystem;
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s <corpus dir or file>...\n", argv[0]);
        return 2;
    }
    size_t runs = 0;
    for (int i = 1; i < argc; ++i) {
        std::vector<fs::path> files;
        std::error_code ec;
        if (fs::is_directory(argv[i], ec)) {
            for (const auto &entry : fs::recursive_directory_iterator(argv[i]))
                if (entry.is_regular_file())
                    files.push_back(entry.path());
        } else if (fs::is_regular_file(argv[i], ec)) {
            files.emplace_back(argv[i]);
        } else {
            std::fprintf(stderr, "%s: no such file or directory\n", argv[i]);
            return 2;
        }
        std::sort(files.begin(), files.end());
        for (const fs::path &file : files) {
            std::ifstream in(file, std::ios::binary);
            const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            if (!in.good() && !in.eof()) {
                std::fprintf(stderr, "%s: cannot read\n", file.string().c_str());
                return 2;
            }
            LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size());
            ++runs;
        }
    }
    if (runs == 0) {
        std::fprintf(stderr, "no input files\n");
        return 1;
    }
    std::printf("%zu inputs replayed without a failure\n", runs);
    return 0;
}

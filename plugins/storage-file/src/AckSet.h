// AckSet.h -- the acked offsets of one queue at or above its low bound, as a sliding bitmap.
//
// Bit i of word w stands for offset word_base_ + 64*w + i. The window starts at the word holding the lowest
// remembered offset and ends at the highest acked one, so memory is one bit per offset between the queue's low bound
// and its newest ack; forget_below() drops whole words as the low bound moves. Not thread-safe (one owner).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <deque>

namespace ferry::storage_file {

class AckSet {
public:
    bool contains(uint64_t offset) const
    {
        if (offset < word_base_)
            return false;
        const uint64_t w = (offset - word_base_) / 64;
        if (w >= words_.size())
            return false;
        return (words_[static_cast<size_t>(w)] >> (offset % 64)) & 1u;
    }

    // Returns true when the offset was not in the set before.
    bool insert(uint64_t offset)
    {
        const uint64_t word_of_offset = offset - offset % 64;
        if (words_.empty()) {
            word_base_ = word_of_offset;
            words_.push_back(0);
        }
        while (word_of_offset < word_base_) {
            words_.push_front(0);
            word_base_ -= 64;
        }
        const uint64_t w = (offset - word_base_) / 64;
        while (words_.size() <= w)
            words_.push_back(0);
        uint64_t &word = words_[static_cast<size_t>(w)];
        const uint64_t bit = uint64_t{1} << (offset % 64);
        if (word & bit)
            return false;
        word |= bit;
        ++count_;
        return true;
    }

    // Drops every offset below low.
    void forget_below(uint64_t low)
    {
        while (!words_.empty() && word_base_ + 64 <= low) {
            count_ -= static_cast<uint64_t>(std::popcount(words_.front()));
            words_.pop_front();
            word_base_ += 64;
        }
        if (!words_.empty() && low > word_base_) {
            const uint64_t keep_mask = ~uint64_t{0} << (low - word_base_);
            const uint64_t dropped = words_.front() & ~keep_mask;
            count_ -= static_cast<uint64_t>(std::popcount(dropped));
            words_.front() &= keep_mask;
        }
        if (count_ == 0)
            words_.clear();
    }

    // Drops every offset at or above from.
    void forget_from(uint64_t from)
    {
        while (!words_.empty() && word_base_ + 64 * (words_.size() - 1) >= from) {
            count_ -= static_cast<uint64_t>(std::popcount(words_.back()));
            words_.pop_back();
        }
        if (!words_.empty() && from < word_base_ + 64 * words_.size()) {
            const uint64_t bit_index = from - (word_base_ + 64 * (words_.size() - 1));
            const uint64_t keep_mask = bit_index == 0 ? 0 : (~uint64_t{0} >> (64 - bit_index));
            count_ -= static_cast<uint64_t>(std::popcount(words_.back() & ~keep_mask));
            words_.back() &= keep_mask;
        }
        if (count_ == 0)
            words_.clear();
    }

    // The first offset >= low that is not in the set; forgets everything below it.
    uint64_t advance(uint64_t low)
    {
        while (!words_.empty()) {
            if (low < word_base_)
                break;
            const uint64_t w = (low - word_base_) / 64;
            if (w >= words_.size())
                break;
            const uint64_t bits = words_[static_cast<size_t>(w)] >> (low % 64);
            const int run = std::countr_one(bits);
            const uint64_t span = 64 - low % 64;
            if (static_cast<uint64_t>(run) < span) {
                low += static_cast<uint64_t>(run);
                break;
            }
            low += span;
        }
        forget_below(low);
        return low;
    }

    // The first offset >= from that is not in the set (skips runs of acked offsets a word at a time).
    uint64_t first_absent(uint64_t from) const
    {
        while (!words_.empty() && from >= word_base_) {
            const uint64_t w = (from - word_base_) / 64;
            if (w >= words_.size())
                break;
            const uint64_t bits = words_[static_cast<size_t>(w)] >> (from % 64);
            const int run = std::countr_one(bits);
            const uint64_t span = 64 - from % 64;
            if (static_cast<uint64_t>(run) < span)
                return from + static_cast<uint64_t>(run);
            from += span;
        }
        return from;
    }

    // How many offsets in [from, to) are in the set.
    uint64_t count_in(uint64_t from, uint64_t to) const
    {
        if (words_.empty() || from >= to)
            return 0;
        const uint64_t end = word_base_ + 64 * words_.size();
        if (from < word_base_)
            from = word_base_;
        if (to > end)
            to = end;
        uint64_t n = 0;
        while (from < to) {
            const uint64_t w = (from - word_base_) / 64;
            const uint64_t word_start = word_base_ + 64 * w;
            const uint64_t lo_bit = from - word_start;
            const uint64_t hi_bit = (to - word_start) < 64 ? to - word_start : 64;
            uint64_t mask = ~uint64_t{0} << lo_bit;
            if (hi_bit < 64)
                mask &= ~(~uint64_t{0} << hi_bit);
            n += static_cast<uint64_t>(std::popcount(words_[static_cast<size_t>(w)] & mask));
            from = word_start + 64;
        }
        return n;
    }

    uint64_t count() const { return count_; }
    void clear()
    {
        words_.clear();
        count_ = 0;
    }

    // Calls f(offset) for every offset in the set, ascending.
    template <typename F>
    void for_each(F &&f) const
    {
        for (size_t w = 0; w < words_.size(); ++w) {
            uint64_t bits = words_[w];
            while (bits != 0) {
                const int bit = std::countr_zero(bits);
                f(word_base_ + 64 * w + static_cast<uint64_t>(bit));
                bits &= bits - 1;
            }
        }
    }

private:
    uint64_t word_base_ = 0; // a multiple of 64
    std::deque<uint64_t> words_;
    uint64_t count_ = 0;
};

} // namespace ferry::storage_file

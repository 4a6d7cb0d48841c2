#include "data/generator.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <algorithm>
#include <array>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

// Determinism: every random draw comes from xoshiro256** seeded through splitmix64, and
// every sampling weight is an integer, so the output does not depend on the standard
// library's distributions or on floating-point contraction. Each user and item draws from
// its own stream (seed, stream, index), so generating in blocks changes nothing.

namespace recwb {
namespace {

constexpr qint64 kEpoch = 1704067200; // 2024-01-01T00:00:00Z
constexpr qint64 kSpan = 2 * 365 * 86400;
constexpr int kThemes = 30;
constexpr int kMaxUserThemes = 4;

uint64_t splitmix64(uint64_t& x)
{
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// High 64 bits of a 64 x 64 product, without __int128 (which -pedantic rejects).
uint64_t mulHigh(uint64_t a, uint64_t b)
{
    const uint64_t aLo = a & 0xffffffffULL, aHi = a >> 32, bLo = b & 0xffffffffULL, bHi = b >> 32;
    const uint64_t lolo = aLo * bLo, hilo = aHi * bLo, lohi = aLo * bHi, hihi = aHi * bHi;
    const uint64_t cross = (lolo >> 32) + (hilo & 0xffffffffULL) + lohi;
    return hihi + (hilo >> 32) + (cross >> 32);
}

class Rng {
public:
    Rng(uint64_t seed, uint64_t stream, uint64_t index)
    {
        uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL) ^ (index * 0x9e3779b97f4a7c15ULL);
        x = splitmix64(x) ^ index;
        for (auto& v : m_s)
            v = splitmix64(x);
    }
    uint64_t next()
    {
        const uint64_t result = rotl(m_s[1] * 5, 7) * 9;
        const uint64_t t = m_s[1] << 17;
        m_s[2] ^= m_s[0];
        m_s[3] ^= m_s[1];
        m_s[1] ^= m_s[2];
        m_s[0] ^= m_s[3];
        m_s[2] ^= t;
        m_s[3] = rotl(m_s[3], 45);
        return result;
    }
    // Uniform in [0, n).
    uint64_t below(uint64_t n) { return n ? mulHigh(next(), n) : 0; }
    int belowInt(int n) { return static_cast<int>(below(static_cast<uint64_t>(std::max(n, 0)))); }
    // Uniform in (0, 1].
    double unit() { return static_cast<double>((next() >> 11) + 1) * 0x1.0p-53; }
    bool chance(int perMille) { return below(1000) < static_cast<uint64_t>(perMille); }

private:
    static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    std::array<uint64_t, 4> m_s {};
};

enum Stream : uint64_t { Global = 1, ItemStream, CatalogStream, ActivityStream, ProfileStream, HistoryStream };

// Picks an index from cumulative integer weights.
int pickCumulative(Rng& rng, const std::vector<uint64_t>& cumulative)
{
    const uint64_t r = rng.below(cumulative.back());
    return static_cast<int>(std::upper_bound(cumulative.begin(), cumulative.end(), r) - cumulative.begin());
}

// --- Vocabulary -------------------------------------------------------------------------

struct CategorySpec {
    const char* name;
    const char* kind; // what one item is called in a description
    std::array<const char*, 8> adjectives;
    std::array<const char*, 8> nouns;
    std::array<const char*, 8> tags;
};

// clang-format off
const CategorySpec kCategories[] = {
    { "Science Fiction", "science fiction novel",
      { "Silent", "Distant", "Quantum", "Hollow", "Burning", "Last", "Orbital", "Electric" },
      { "Harbor", "Star", "Colony", "Signal", "Machine", "Horizon", "Station", "Frontier" },
      { "space opera", "time travel", "robots", "first contact", "dystopia", "cyberpunk", "hard sf", "aliens" } },
    { "Fantasy", "fantasy saga",
      { "Crimson", "Hidden", "Ancient", "Golden", "Shadowed", "Wild", "Broken", "Enchanted" },
      { "Crown", "Dragon", "Forest", "Sword", "Tower", "Oath", "Kingdom", "Wizard" },
      { "magic", "dragons", "quest", "epic", "fairy tale", "sword and sorcery", "myth", "prophecy" } },
    { "Mystery", "mystery",
      { "Quiet", "Missing", "Locked", "Pale", "Crooked", "Secret", "Midnight", "Fallen" },
      { "Room", "Witness", "Letter", "Garden", "Detective", "Alibi", "Clue", "Manor" },
      { "whodunit", "detective", "cozy mystery", "police procedural", "noir", "puzzle", "twist ending", "small town" } },
    { "Romance", "romance",
      { "Sweet", "Summer", "Endless", "Tender", "Second", "Secret", "Lovely", "Wild" },
      { "Heart", "Promise", "Kiss", "Letter", "Season", "Wedding", "Dance", "Rose" },
      { "love story", "slow burn", "enemies to lovers", "feel-good", "second chance", "wedding", "holiday", "heartwarming" } },
    { "Thriller", "thriller",
      { "Deadly", "Cold", "Final", "Dark", "Silent", "Rogue", "Burning", "Hidden" },
      { "Protocol", "Target", "Agent", "Conspiracy", "Deadline", "Hostage", "Code", "Escape" },
      { "suspense", "espionage", "conspiracy", "psychological", "action", "heist", "fast-paced", "crime" } },
    { "Documentary", "documentary",
      { "Hidden", "Untold", "Wild", "Lost", "Frozen", "Human", "Secret", "Living" },
      { "Planet", "Ocean", "Story", "Empire", "Journey", "Truth", "River", "Machine" },
      { "nature", "true story", "biography", "investigative", "science", "history", "society", "wildlife" } },
    { "Comedy", "comedy",
      { "Lucky", "Crazy", "Awkward", "Happy", "Little", "Big", "Perfect", "Terrible" },
      { "Weekend", "Neighbor", "Vacation", "Wedding", "Roommate", "Party", "Plan", "Family" },
      { "funny", "satire", "slapstick", "feel-good", "parody", "witty", "dark comedy", "sitcom" } },
    { "Drama", "drama",
      { "Quiet", "Broken", "Long", "Bitter", "Fragile", "Open", "Golden", "Last" },
      { "Summer", "Road", "House", "Daughter", "River", "Years", "Silence", "Promise" },
      { "family", "coming of age", "tearjerker", "character study", "period piece", "based on a book", "moving", "slow" } },
    { "Horror", "horror story",
      { "Hollow", "Crawling", "Black", "Grim", "Restless", "Rotten", "Whispering", "Bleeding" },
      { "Cellar", "Doll", "Asylum", "Woods", "Curse", "Ritual", "Ghost", "Night" },
      { "haunted", "supernatural", "gore", "creepy", "slasher", "occult", "monster", "jump scares" } },
    { "Jazz", "jazz album",
      { "Blue", "Smoky", "Late", "Velvet", "Midnight", "Cool", "Swinging", "Lonely" },
      { "Session", "Standard", "Quartet", "Ballad", "Groove", "Avenue", "Club", "Trumpet" },
      { "bebop", "smooth", "big band", "improvisation", "saxophone", "piano trio", "fusion", "vocal jazz" } },
    { "Classical", "classical recording",
      { "Grand", "Solemn", "Pastoral", "Eternal", "Imperial", "Tender", "Heroic", "Nocturnal" },
      { "Symphony", "Sonata", "Concerto", "Requiem", "Overture", "Nocturne", "Suite", "Fugue" },
      { "orchestral", "baroque", "romantic era", "chamber music", "piano", "opera", "strings", "choral" } },
    { "Cooking", "cookbook",
      { "Simple", "Rustic", "Fresh", "Spicy", "Slow", "Golden", "Green", "Hearty" },
      { "Kitchen", "Table", "Harvest", "Bread", "Feast", "Pantry", "Garden", "Supper" },
      { "vegetarian", "baking", "quick meals", "regional", "comfort food", "healthy", "desserts", "street food" } },
    { "Travel", "travel guide",
      { "Northern", "Hidden", "Coastal", "Endless", "Sunlit", "Wild", "Little", "Grand" },
      { "Road", "Islands", "Railway", "Coast", "Valley", "Cities", "Trail", "Desert" },
      { "backpacking", "road trip", "adventure travel", "city guide", "food travel", "hiking", "islands", "budget" } },
    { "History", "history book",
      { "Forgotten", "Iron", "Lost", "Great", "Silent", "Last", "Rising", "Fallen" },
      { "Empire", "Century", "Revolution", "War", "Dynasty", "Republic", "Voyage", "Kings" },
      { "ancient world", "medieval", "world war", "biography", "political", "military", "social history", "archaeology" } },
    { "Adventure", "adventure",
      { "Lost", "Savage", "Brave", "Forbidden", "Endless", "Golden", "Wild", "Secret" },
      { "Island", "Expedition", "Treasure", "Jungle", "Mountain", "Voyage", "Map", "Temple" },
      { "exploration", "treasure hunt", "survival", "swashbuckling", "jungle", "sea", "mountains", "quest" } },
    { "Animation", "animated film",
      { "Little", "Magic", "Brave", "Tiny", "Flying", "Happy", "Curious", "Secret" },
      { "Fox", "Robot", "Kingdom", "Friends", "Balloon", "Dragon", "Garden", "Toys" },
      { "family", "kids", "pixar-like", "anime", "stop motion", "musical", "talking animals", "fairy tale" } },
    { "Poetry", "poetry collection",
      { "Quiet", "Small", "White", "Autumn", "Burning", "Tender", "Salt", "Winter" },
      { "Songs", "Elegies", "Hours", "Birds", "Psalms", "Letters", "Rivers", "Light" },
      { "lyric", "free verse", "sonnets", "nature", "love poems", "modernist", "spoken word", "translation" } },
    { "Sports", "sports story",
      { "Perfect", "Final", "Great", "Fast", "Unbeaten", "Golden", "Long", "Underdog" },
      { "Season", "Game", "Race", "Champion", "Comeback", "Team", "Goal", "Match" },
      { "football", "basketball", "underdog", "biography", "olympics", "cycling", "tennis", "coaching" } },
};
// clang-format on
constexpr int kNamedCategories = static_cast<int>(std::size(kCategories));

const char* const kPlaces[] = { "Ashford", "the North", "Lake Orla", "Vantor", "the Old Quarter", "Brightwater",
    "Kessel Bay", "the Marshes", "Eldmoor", "Saint Ives", "the Red Hills", "Port Calder" };

// What a latent theme is "about": it shows up in descriptions, so content features carry signal.
const char* const kMotifs[kThemes] = { "a lost inheritance", "first contact", "a family reunion", "an impossible heist",
    "a long journey home", "a forbidden love", "a city under siege", "an unlikely friendship", "a stolen identity",
    "the end of an era", "a rivalry between siblings", "a secret society", "a small town with a dark past",
    "a voyage across the sea", "a fallen hero", "a mentor and a student", "a wartime promise", "a machine that dreams",
    "a summer that changed everything", "a race against time", "an abandoned house", "a musician on the road",
    "a kitchen full of memories", "a scientist's obsession", "a kingdom divided", "a prisoner's escape",
    "a mountain expedition", "an election gone wrong", "a ghost who wants to be heard", "a comeback season" };

const char* const kOccupations[] = { "student", "engineer", "educator", "artist", "healthcare", "writer", "sales",
    "scientist", "administrator", "technician", "retired", "other" };
constexpr int kOccupationCount = static_cast<int>(std::size(kOccupations));
const char* const kAgeBands[] = { "under 18", "18-24", "25-34", "35-44", "45-54", "55+" };
constexpr int kAgeBandCount = static_cast<int>(std::size(kAgeBands));
const char* const kGenders[] = { "F", "M", "X" };
constexpr int kGenderCount = static_cast<int>(std::size(kGenders));

int ageBand(int age)
{
    if (age < 18)
        return 0;
    if (age < 25)
        return 1;
    if (age < 35)
        return 2;
    if (age < 45)
        return 3;
    if (age < 55)
        return 4;
    return 5;
}

// --- The latent model -------------------------------------------------------------------

struct GenItem {
    QString externalId;
    QString title;
    QString description;
    QStringList categories;
    QStringList tags;
    int year = 0;
};

struct GenUser {
    QString externalId;
    int age = 0;
    int ageBand = 0;
    int gender = 0;
    int occupation = 0;
};

struct GenInteraction {
    int32_t item = 0;
    int rating = 0;
    qint64 timestamp = 0;
};

class Sink {
public:
    virtual ~Sink() = default;
    virtual void item(int index, const GenItem& item) = 0;
    virtual void user(int index, const GenUser& user) = 0;
    // In time order.
    virtual void interactions(int user, std::span<const GenInteraction> rows) = 0;
};

struct UserBlock {
    std::vector<GenUser> users;
    std::vector<size_t> ends; // end offset of each user's rows
    std::vector<GenInteraction> rows;
};

struct Theme {
    int primaryCategory = 0;
    int secondaryCategory = 0;
    std::array<int, 3> signatureTags {}; // indices into the primary category's tags
};

struct ItemLatent {
    std::array<int, 2> themes { -1, -1 };
    std::array<int, 2> weights { 0, 0 }; // per mille, summing to 1000
    uint64_t popularity = 0;
};

class Model {
public:
    explicit Model(const GeneratorConfig& config)
        : m_config(config)
    {
        if (config.users < 0 || config.items < 1 || config.interactions < 0 || config.categories < 1)
            throw Error(QStringLiteral("generator: users, interactions must be >= 0 and items, categories >= 1"));
        if (config.coldFraction < 0 || config.coldFraction > 1)
            throw Error(QStringLiteral("generator: the cold fraction must be between 0 and 1"));
        buildCategories();
        buildThemes();
        buildProfiles();
        buildItems();
        buildActivity();
    }

    void run(Sink& sink, const TaskControl& control) const
    {
        control.progress(0.0, QStringLiteral("Generating the catalog"));
        for (int i = 0; i < m_config.items; ++i) {
            sink.item(i, catalogItem(i));
            if ((i & 1023) == 0)
                control.throwIfCanceled();
        }
        // Users are generated in blocks on a second thread while this thread writes the
        // previous blocks (the sink, progress and cancel stay on the calling thread).
        constexpr int kBlockUsers = 512;
        constexpr size_t kQueuedBlocks = 3;
        std::mutex mutex;
        std::condition_variable changed;
        std::deque<UserBlock> queue;
        bool stop = false, finished = false;
        std::exception_ptr producerError;
        std::thread producer([&] {
            try {
                std::vector<uint8_t> seen(static_cast<size_t>(m_config.items), 0);
                std::vector<GenInteraction> rows;
                for (int first = 0; first < m_config.users; first += kBlockUsers) {
                    UserBlock block;
                    const int last = std::min(m_config.users, first + kBlockUsers);
                    for (int u = first; u < last; ++u) {
                        block.users.push_back(userProfile(u));
                        history(u, block.users.back(), seen, rows);
                        block.rows.insert(block.rows.end(), rows.begin(), rows.end());
                        block.ends.push_back(block.rows.size());
                    }
                    std::unique_lock lock(mutex);
                    changed.wait(lock, [&] { return stop || queue.size() < kQueuedBlocks; });
                    if (stop)
                        return;
                    queue.push_back(std::move(block));
                    changed.notify_all();
                }
            } catch (...) {
                const std::lock_guard lock(mutex);
                producerError = std::current_exception();
            }
            const std::lock_guard lock(mutex);
            finished = true;
            changed.notify_all();
        });
        const auto stopProducer = [&] {
            {
                const std::lock_guard lock(mutex);
                stop = true;
                changed.notify_all();
            }
            producer.join();
        };
        try {
            const double total = std::max<double>(1.0, static_cast<double>(m_plannedTotal));
            qint64 done = 0;
            int user = 0;
            for (;;) {
                UserBlock block;
                {
                    std::unique_lock lock(mutex);
                    changed.wait(lock, [&] { return !queue.empty() || finished; });
                    if (queue.empty()) {
                        if (producerError)
                            std::rethrow_exception(producerError);
                        break;
                    }
                    block = std::move(queue.front());
                    queue.pop_front();
                    changed.notify_all();
                }
                size_t begin = 0;
                for (size_t k = 0; k < block.users.size(); ++k, ++user) {
                    sink.user(user, block.users[k]);
                    sink.interactions(user, std::span<const GenInteraction>(block.rows).subspan(begin, block.ends[k] - begin));
                    begin = block.ends[k];
                }
                done += static_cast<qint64>(block.rows.size());
                control.throwIfCanceled();
                control.progress(0.02 + 0.98 * static_cast<double>(done) / total, QStringLiteral("Generating interactions"));
            }
        } catch (...) {
            stopProducer();
            throw;
        }
        stopProducer();
        control.progress(1.0, QStringLiteral("Generated"));
    }

    qint64 plannedTotal() const { return m_plannedTotal; }

private:
    void buildCategories()
    {
        for (int c = 0; c < m_config.categories; ++c)
            m_categoryNames << (c < kNamedCategories ? QString::fromLatin1(kCategories[c].name)
                                                     : QStringLiteral("Collection %1").arg(c - kNamedCategories + 1));
    }
    // Categories past the named ones borrow the vocabulary of a named one.
    static const CategorySpec& spec(int category) { return kCategories[category % kNamedCategories]; }

    void buildThemes()
    {
        Rng rng(m_config.seed, Global, 1);
        const int c = m_config.categories;
        for (int t = 0; t < kThemes; ++t) {
            Theme th;
            th.primaryCategory = t % c;
            th.secondaryCategory = c > 1 ? (th.primaryCategory + 1 + rng.belowInt(c - 1)) % c : 0;
            std::array<int, 8> order { 0, 1, 2, 3, 4, 5, 6, 7 };
            for (int k = 0; k < 3; ++k)
                std::swap(order[static_cast<size_t>(k)], order[static_cast<size_t>(k + rng.belowInt(8 - k))]);
            th.signatureTags = { order[0], order[1], order[2] };
            m_themes[static_cast<size_t>(t)] = th;
        }
    }

    // Profile segments shift theme preferences: each age band, occupation and gender
    // favours a few themes, so segment popularity is informative for cold users.
    void buildProfiles()
    {
        Rng rng(m_config.seed, Global, 2);
        auto boost = [&](auto& table, int count, int themesEach) {
            for (int s = 0; s < count; ++s)
                for (int k = 0; k < themesEach; ++k)
                    table[static_cast<size_t>(s)][static_cast<size_t>(rng.belowInt(kThemes))] = 1;
        };
        boost(m_ageBoost, kAgeBandCount, 5);
        boost(m_occupationBoost, kOccupationCount, 3);
        boost(m_genderBoost, kGenderCount, 4);
    }

    void buildItems()
    {
        const int n = m_config.items;
        m_items.resize(static_cast<size_t>(n));
        // Zipf-like popularity over a random rank permutation.
        std::vector<int> rank(static_cast<size_t>(n));
        for (int i = 0; i < n; ++i)
            rank[static_cast<size_t>(i)] = i;
        Rng rng(m_config.seed, Global, 3);
        for (int i = n - 1; i > 0; --i)
            std::swap(rank[static_cast<size_t>(i)], rank[static_cast<size_t>(rng.belowInt(i + 1))]);
        m_globalCumulative.resize(static_cast<size_t>(n));
        uint64_t sum = 0;
        for (int i = 0; i < n; ++i) {
            ItemLatent& it = m_items[static_cast<size_t>(i)];
            Rng r(m_config.seed, ItemStream, static_cast<uint64_t>(i));
            it.popularity = (uint64_t { 1 } << 36) / static_cast<uint64_t>(rank[static_cast<size_t>(i)] + 10) + 1;
            it.themes[0] = r.belowInt(kThemes);
            if (r.chance(350)) {
                int second = r.chance(500) ? (it.themes[0] + 1 + r.belowInt(2)) % kThemes : r.belowInt(kThemes);
                if (second == it.themes[0])
                    second = (second + 1) % kThemes;
                it.themes[1] = second;
                it.weights[0] = 600 + r.belowInt(300);
                it.weights[1] = 1000 - it.weights[0];
            } else {
                it.weights[0] = 1000;
            }
            sum += it.popularity;
            m_globalCumulative[static_cast<size_t>(i)] = sum;
        }
        for (int t = 0; t < kThemes; ++t)
            m_themeCumulative[static_cast<size_t>(t)].clear();
        for (int i = 0; i < n; ++i) {
            const ItemLatent& it = m_items[static_cast<size_t>(i)];
            for (size_t k = 0; k < 2; ++k) {
                if (it.themes[k] < 0)
                    continue;
                const auto t = static_cast<size_t>(it.themes[k]);
                auto& cum = m_themeCumulative[t];
                const uint64_t w = it.popularity * static_cast<uint64_t>(it.weights[k]);
                cum.push_back((cum.empty() ? 0 : cum.back()) + w);
                m_themeItems[t].push_back(i);
            }
        }
    }

    // How many interactions each user gets: coldFraction of users 0-4, the others a
    // heavy-tailed count scaled so the total lands near config.interactions.
    void buildActivity()
    {
        const int users = m_config.users;
        m_counts.assign(static_cast<size_t>(users), 0);
        if (users == 0)
            return;
        std::vector<int> order(static_cast<size_t>(users));
        for (int u = 0; u < users; ++u)
            order[static_cast<size_t>(u)] = u;
        Rng rng(m_config.seed, Global, 4);
        for (int i = users - 1; i > 0; --i)
            std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(rng.belowInt(i + 1))]);
        const auto cold = static_cast<int>(std::llround(users * m_config.coldFraction));
        std::vector<uint8_t> isCold(static_cast<size_t>(users), 0);
        for (int k = 0; k < cold; ++k)
            isCold[static_cast<size_t>(order[static_cast<size_t>(k)])] = 1;

        const int maxCold = std::min(4, m_config.items);
        qint64 coldTotal = 0;
        std::vector<double> weight(static_cast<size_t>(users), 0.0);
        for (int u = 0; u < users; ++u) {
            Rng r(m_config.seed, ActivityStream, static_cast<uint64_t>(u));
            if (isCold[static_cast<size_t>(u)]) {
                m_counts[static_cast<size_t>(u)] = r.belowInt(maxCold + 1);
                coldTotal += m_counts[static_cast<size_t>(u)];
            } else {
                // Pareto-like tail (alpha 2) shifted so light users are ~10x below the mean.
                weight[static_cast<size_t>(u)] = 1.0 / std::sqrt(r.unit()) - 0.85;
            }
        }
        const int floorCount = std::min(kDefaultColdThreshold, m_config.items);
        const int cap = std::max(floorCount, static_cast<int>(m_config.items * 0.4));
        const double target = static_cast<double>(std::max<qint64>(0, m_config.interactions - coldTotal));
        auto countFor = [&](double w, double scale) {
            return static_cast<int>(std::clamp<double>(std::round(w * scale), floorCount, cap));
        };
        auto totalFor = [&](double scale) {
            double sum = 0;
            for (int u = 0; u < users; ++u)
                if (!isCold[static_cast<size_t>(u)])
                    sum += countFor(weight[static_cast<size_t>(u)], scale);
            return sum;
        };
        double lo = 0, hi = 1;
        while (totalFor(hi) < target && hi < 1e12)
            hi *= 2;
        for (int it = 0; it < 60; ++it) {
            const double mid = 0.5 * (lo + hi);
            (totalFor(mid) < target ? lo : hi) = mid;
        }
        m_plannedTotal = coldTotal;
        for (int u = 0; u < users; ++u) {
            if (!isCold[static_cast<size_t>(u)])
                m_counts[static_cast<size_t>(u)] = countFor(weight[static_cast<size_t>(u)], hi);
            m_plannedTotal += m_counts[static_cast<size_t>(u)];
        }
    }

    GenItem catalogItem(int i) const
    {
        const ItemLatent& lat = m_items[static_cast<size_t>(i)];
        Rng r(m_config.seed, CatalogStream, static_cast<uint64_t>(i));
        const Theme& th = m_themes[static_cast<size_t>(lat.themes[0])];
        std::vector<int> cats { th.primaryCategory };
        auto addCategory = [&](int c) {
            if (cats.size() < 3 && std::find(cats.begin(), cats.end(), c) == cats.end())
                cats.push_back(c);
        };
        if (r.chance(450))
            addCategory(th.secondaryCategory);
        if (lat.themes[1] >= 0 && r.chance(600))
            addCategory(m_themes[static_cast<size_t>(lat.themes[1])].primaryCategory);

        GenItem out;
        out.externalId = QStringLiteral("i%1").arg(i + 1);
        for (int c : cats)
            out.categories << m_categoryNames[c];

        const CategorySpec& s = spec(th.primaryCategory);
        const auto word = [&](const std::array<const char*, 8>& list) { return QString::fromLatin1(list[r.below(8)]); };
        const QString adj = word(s.adjectives);
        const auto nounIndex = static_cast<size_t>(r.below(8));
        const QString noun = QString::fromLatin1(s.nouns[nounIndex]);
        const auto place = [&] { return QString::fromLatin1(kPlaces[r.below(std::size(kPlaces))]); };
        switch (r.belowInt(5)) {
        case 0:
            out.title = QStringLiteral("The %1 %2").arg(adj, noun);
            break;
        case 1:
            out.title = QStringLiteral("%1 of %2").arg(noun, place());
            break;
        case 2:
            out.title = QStringLiteral("%1 %2").arg(adj, noun);
            break;
        case 3: {
            QString other = word(spec(cats.back()).nouns);
            if (other == noun)
                other = QString::fromLatin1(s.nouns[(nounIndex + 1) % 8]);
            out.title = QStringLiteral("The %1 and the %2").arg(noun, other);
            break;
        }
        default:
            out.title = QStringLiteral("%1 %2 of %3").arg(adj, noun, place());
            break;
        }

        // Year: skewed towards recent.
        const int back = static_cast<int>(r.below(75) * r.below(75) / 75);
        out.year = 2025 - back;

        // Tags: one or two signature tags of the main theme, then others of the item's categories.
        const int tagCount = 2 + r.belowInt(4);
        auto addTag = [&](const QString& tag) {
            if (out.tags.size() < tagCount && !out.tags.contains(tag))
                out.tags << tag;
        };
        addTag(QString::fromLatin1(s.tags[static_cast<size_t>(th.signatureTags[r.below(3)])]));
        if (r.chance(600))
            addTag(QString::fromLatin1(s.tags[static_cast<size_t>(th.signatureTags[r.below(3)])]));
        if (lat.themes[1] >= 0) {
            const Theme& th2 = m_themes[static_cast<size_t>(lat.themes[1])];
            addTag(QString::fromLatin1(spec(th2.primaryCategory).tags[static_cast<size_t>(th2.signatureTags[0])]));
        }
        for (int guard = 0; out.tags.size() < tagCount && guard < 40; ++guard)
            addTag(QString::fromLatin1(spec(cats[r.below(cats.size())]).tags[r.below(8)]));

        const QString kind = QString::fromLatin1(s.kind);
        const QString article = QStringLiteral("aeiou").contains(adj.front().toLower()) ? QStringLiteral("An") : QStringLiteral("A");
        QString about = QString::fromLatin1(kMotifs[lat.themes[0]]);
        if (lat.themes[1] >= 0)
            about += QStringLiteral(" and ") + QString::fromLatin1(kMotifs[lat.themes[1]]);
        out.description = QStringLiteral("%1 %2 %3 about %4.").arg(article, adj.toLower(), kind, about);
        if (r.chance(650))
            out.description += QStringLiteral(" Fans of %1 will feel at home.").arg(out.tags.front());
        return out;
    }

    GenUser userProfile(int u) const
    {
        Rng r(m_config.seed, ProfileStream, static_cast<uint64_t>(u));
        GenUser p;
        p.externalId = QStringLiteral("u%1").arg(u + 1);
        p.age = 14 + std::min(r.belowInt(50), r.belowInt(55)) + r.belowInt(10);
        p.ageBand = ageBand(p.age);
        const auto g = r.below(100);
        p.gender = g < 48 ? 0 : g < 96 ? 1 : 2;
        if (p.age < 23 && r.chance(700))
            p.occupation = 0; // student
        else if (p.age >= 62 && r.chance(700))
            p.occupation = 10; // retired
        else
            p.occupation = r.belowInt(kOccupationCount);
        return p;
    }

    // Fills `rows` with the user's interactions in time order; `seen` is all zero on entry and exit.
    void history(int u, const GenUser& profile, std::vector<uint8_t>& seen, std::vector<GenInteraction>& rows) const
    {
        rows.clear();
        const int n = std::min(m_counts[static_cast<size_t>(u)], m_config.items);
        Rng r(m_config.seed, HistoryStream, static_cast<uint64_t>(u));

        // Latent tastes: 2-4 themes drawn from a prior the profile shifts.
        std::array<uint64_t, kThemes> prior {};
        for (size_t t = 0; t < kThemes; ++t)
            prior[t] = 4 + 40 * m_ageBoost[static_cast<size_t>(profile.ageBand)][t]
                + 50 * m_occupationBoost[static_cast<size_t>(profile.occupation)][t]
                + 20 * m_genderBoost[static_cast<size_t>(profile.gender)][t];
        const int k = 2 + r.belowInt(kMaxUserThemes - 1);
        std::array<int, kMaxUserThemes> themes {};
        std::vector<uint64_t> tasteCumulative;
        std::array<int, kThemes> taste {}; // per theme, 0..1000 relative to the favourite
        uint64_t tasteSum = 0;
        for (int j = 0; j < k; ++j) {
            uint64_t total = 0;
            for (uint64_t w : prior)
                total += w;
            uint64_t pick = r.below(total);
            int t = 0;
            while (pick >= prior[static_cast<size_t>(t)])
                pick -= prior[static_cast<size_t>(t++)];
            prior[static_cast<size_t>(t)] = 0;
            themes[static_cast<size_t>(j)] = t;
            const int w = (300 + r.belowInt(700)) * (j == 0 ? 2 : 1);
            tasteSum += static_cast<uint64_t>(w);
            tasteCumulative.push_back(tasteSum);
            taste[static_cast<size_t>(t)] = w;
        }
        const int top = *std::max_element(taste.begin(), taste.end());
        for (int& w : taste)
            w = w * 1000 / top;
        const int bias = r.belowInt(1000) - 500; // per-user rating bias, in 1/1000 stars
        const int noisePerMille = 60 + r.belowInt(80); // share of popularity-driven picks

        // Active period inside the two years.
        const qint64 start = static_cast<qint64>(r.below(static_cast<uint64_t>(kSpan * 3 / 4)));
        const qint64 length = std::max<qint64>(86400, static_cast<qint64>(r.below(static_cast<uint64_t>(kSpan - start))));
        std::vector<qint64> times(static_cast<size_t>(n));
        for (auto& t : times)
            t = start + static_cast<qint64>(r.below(static_cast<uint64_t>(length)));
        std::sort(times.begin(), times.end());

        for (int j = 0; j < n; ++j) {
            int item = -1;
            for (int attempt = 0; attempt < 64 && item < 0; ++attempt) {
                int candidate;
                if (attempt >= 32 || r.chance(noisePerMille)) {
                    candidate = pickCumulative(r, m_globalCumulative);
                } else {
                    const auto t = static_cast<size_t>(themes[static_cast<size_t>(pickCumulative(r, tasteCumulative))]);
                    if (m_themeItems[t].empty())
                        continue;
                    candidate = m_themeItems[t][static_cast<size_t>(pickCumulative(r, m_themeCumulative[t]))];
                }
                if (!seen[static_cast<size_t>(candidate)])
                    item = candidate;
            }
            if (item < 0) { // nearly everything popular is taken: walk from a random start
                item = r.belowInt(m_config.items);
                while (seen[static_cast<size_t>(item)])
                    item = (item + 1) % m_config.items;
            }
            seen[static_cast<size_t>(item)] = 1;

            const ItemLatent& lat = m_items[static_cast<size_t>(item)];
            int affinity = 0; // 0..1000
            for (size_t s = 0; s < 2; ++s)
                if (lat.themes[s] >= 0)
                    affinity += taste[static_cast<size_t>(lat.themes[s])] * lat.weights[s] / 1000;
            const int noise = r.belowInt(400) + r.belowInt(400) + r.belowInt(400) - 600;
            const int milli = 2300 + 2 * affinity + bias + noise;
            const int rating = std::clamp((milli + 500) / 1000, 1, 5);
            qint64 ts = kEpoch + times[static_cast<size_t>(j)];
            if (j > 0 && ts <= rows.back().timestamp)
                ts = rows.back().timestamp + 1;
            rows.push_back({ item, rating, ts });
        }
        for (const auto& row : rows)
            seen[static_cast<size_t>(row.item)] = 0;
    }

    GeneratorConfig m_config;
    QStringList m_categoryNames;
    std::array<Theme, kThemes> m_themes {};
    std::array<std::array<uint64_t, kThemes>, kAgeBandCount> m_ageBoost {};
    std::array<std::array<uint64_t, kThemes>, kOccupationCount> m_occupationBoost {};
    std::array<std::array<uint64_t, kThemes>, kGenderCount> m_genderBoost {};
    std::vector<ItemLatent> m_items;
    std::vector<uint64_t> m_globalCumulative;
    std::array<std::vector<uint64_t>, kThemes> m_themeCumulative;
    std::array<std::vector<int32_t>, kThemes> m_themeItems;
    std::vector<int> m_counts;
    qint64 m_plannedTotal = 0;
};

QJsonObject userAttributes(const GenUser& u)
{
    return QJsonObject {
        { QStringLiteral("age"), u.age },
        { QStringLiteral("age_band"), QString::fromLatin1(kAgeBands[u.ageBand]) },
        { QStringLiteral("gender"), QString::fromLatin1(kGenders[u.gender]) },
        { QStringLiteral("occupation"), QString::fromLatin1(kOccupations[u.occupation]) },
    };
}

class WorkspaceSink final : public Sink {
public:
    explicit WorkspaceSink(ImportWriter& writer, ImportReport& report, int items)
        : m_writer(writer)
        , m_report(report)
    {
        m_itemIds.reserve(static_cast<size_t>(items));
    }
    void item(int, const GenItem& it) override
    {
        m_writer.upsertItem(ItemRecord { it.externalId, it.title, it.description, it.categories, it.year, {} });
        const qint64 id = m_writer.itemId(it.externalId);
        m_itemIds.push_back(id);
        for (const QString& tag : it.tags)
            m_writer.addTag(id, std::nullopt, tag, std::nullopt);
        ++m_report.rowsRead;
    }
    void user(int, const GenUser& u) override
    {
        m_writer.upsertUser(UserRecord { u.externalId, userAttributes(u) });
        m_userId = m_writer.userId(u.externalId);
        ++m_report.rowsRead;
    }
    void interactions(int, std::span<const GenInteraction> rows) override
    {
        // Insert in item order: with ascending user ids that appends to the table's B-tree.
        m_sorted.assign(rows.begin(), rows.end());
        std::sort(m_sorted.begin(), m_sorted.end(), [](const auto& a, const auto& b) { return a.item < b.item; });
        for (const auto& row : m_sorted)
            m_writer.addInteraction(m_userId, m_itemIds[static_cast<size_t>(row.item)], row.rating, row.timestamp);
        m_report.rowsRead += static_cast<qint64>(rows.size());
    }

private:
    ImportWriter& m_writer;
    ImportReport& m_report;
    std::vector<qint64> m_itemIds;
    std::vector<GenInteraction> m_sorted;
    qint64 m_userId = 0;
};

// A buffered CSV file (RFC 4180 quoting).
class CsvOut {
public:
    explicit CsvOut(const QString& path)
        : m_file(path)
    {
        if (!m_file.open(QIODevice::WriteOnly | QIODevice::Truncate))
            throw Error(QStringLiteral("%1: cannot write: %2").arg(path, m_file.errorString()));
        m_buffer.reserve(kFlushAt + 4096);
    }
    ~CsvOut() = default;
    CsvOut(const CsvOut&) = delete;
    CsvOut& operator=(const CsvOut&) = delete;

    CsvOut& field(const QString& text)
    {
        separate();
        const QByteArray utf8 = text.toUtf8();
        if (utf8.contains(',') || utf8.contains('"') || utf8.contains('\n') || utf8.contains('\r')) {
            QByteArray quoted = utf8;
            quoted.replace('"', "\"\"");
            m_buffer += '"';
            m_buffer += quoted;
            m_buffer += '"';
        } else {
            m_buffer += utf8;
        }
        return *this;
    }
    CsvOut& field(qint64 value)
    {
        separate();
        char tmp[24];
        const auto res = std::to_chars(tmp, tmp + sizeof tmp, value);
        m_buffer.append(tmp, static_cast<qsizetype>(res.ptr - tmp));
        return *this;
    }
    CsvOut& raw(const char* prefix, qint64 value)
    {
        separate();
        m_buffer += prefix;
        m_atLineStart = true; // the number follows without a separator
        return field(value);
    }
    void endLine()
    {
        m_buffer += '\n';
        m_atLineStart = true;
        if (m_buffer.size() >= kFlushAt)
            flush();
    }
    void close()
    {
        flush();
        if (!m_file.flush())
            fail();
        m_file.close();
    }

private:
    static constexpr qsizetype kFlushAt = 1 << 20;
    void separate()
    {
        if (!m_atLineStart)
            m_buffer += ',';
        m_atLineStart = false;
    }
    void flush()
    {
        if (m_file.write(m_buffer) != m_buffer.size())
            fail();
        m_buffer.clear();
    }
    [[noreturn]] void fail() { throw Error(QStringLiteral("%1: write failed: %2").arg(m_file.fileName(), m_file.errorString())); }

    QFile m_file;
    QByteArray m_buffer;
    bool m_atLineStart = true;
};

class CsvSink final : public Sink {
public:
    explicit CsvSink(const QString& folder)
        : m_items(QDir(folder).filePath(QStringLiteral("items.csv")))
        , m_users(QDir(folder).filePath(QStringLiteral("users.csv")))
        , m_interactions(QDir(folder).filePath(QStringLiteral("interactions.csv")))
    {
        header(m_items, { "item_id", "title", "description", "categories", "tags", "year" });
        header(m_users, { "user_id", "age", "gender", "occupation" });
        header(m_interactions, { "user_id", "item_id", "rating", "timestamp" });
    }
    void item(int, const GenItem& it) override
    {
        m_items.field(it.externalId)
            .field(it.title)
            .field(it.description)
            .field(it.categories.join(u'|'))
            .field(it.tags.join(u'|'))
            .field(it.year);
        m_items.endLine();
    }
    void user(int index, const GenUser& u) override
    {
        m_users.field(u.externalId)
            .field(u.age)
            .field(QString::fromLatin1(kGenders[u.gender]))
            .field(QString::fromLatin1(kOccupations[u.occupation]));
        m_users.endLine();
        m_userIndex = index + 1;
    }
    void interactions(int, std::span<const GenInteraction> rows) override
    {
        for (const auto& row : rows) {
            m_interactions.raw("u", m_userIndex).raw("i", row.item + 1).field(row.rating).field(row.timestamp);
            m_interactions.endLine();
        }
    }
    void close()
    {
        m_items.close();
        m_users.close();
        m_interactions.close();
    }

private:
    static void header(CsvOut& out, std::initializer_list<const char*> names)
    {
        for (const char* n : names)
            out.field(QString::fromLatin1(n));
        out.endLine();
    }
    CsvOut m_items;
    CsvOut m_users;
    CsvOut m_interactions;
    qint64 m_userIndex = 0;
};

QString describe(const GeneratorConfig& c)
{
    return QStringLiteral("seed=%1 users=%2 items=%3 interactions=%4 categories=%5 cold=%6")
        .arg(c.seed)
        .arg(c.users)
        .arg(c.items)
        .arg(c.interactions)
        .arg(c.categories)
        .arg(c.coldFraction);
}

} // namespace

ImportReport generateIntoWorkspace(Workspace& ws, const GeneratorConfig& config, const TaskControl& control)
{
    QElapsedTimer timer;
    timer.start();
    const Model model(config);
    ImportReport report;
    report.format = QStringLiteral("demo-generator");
    report.source = describe(config);
    ImportWriter writer(ws, report);
    WorkspaceSink sink(writer, report, config.items);
    model.run(sink, control);
    ws.setMeta(QStringLiteral("generator"),
        QString::fromUtf8(QJsonDocument(QJsonObject {
                                            { QStringLiteral("seed"), QString::number(config.seed) },
                                            { QStringLiteral("users"), config.users },
                                            { QStringLiteral("items"), config.items },
                                            { QStringLiteral("interactions"), config.interactions },
                                            { QStringLiteral("categories"), config.categories },
                                            { QStringLiteral("cold_fraction"), config.coldFraction },
                                        })
                              .toJson(QJsonDocument::Compact)));
    report.seconds = static_cast<double>(timer.nsecsElapsed()) / 1e9;
    writer.commit();
    return report;
}

void generateCsvFiles(const QString& folder, const GeneratorConfig& config, const TaskControl& control)
{
    if (!QDir().mkpath(folder))
        throw Error(QStringLiteral("%1: cannot create the folder").arg(folder));
    const Model model(config);
    CsvSink sink(folder);
    model.run(sink, control);
    sink.close();
}

} // namespace recwb

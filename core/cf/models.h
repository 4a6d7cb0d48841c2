#pragma once

#include "cf/ann.h"
#include "cf/recommender.h"

#include <Eigen/Core>

namespace recwb::cf {

// out = factors * x for every row (one score per item). Scoring is bound by reading the
// factor matrix, so a large catalog is split across the worker pool (threads: how many
// parts; 0 = automatic, more than one from 2 million factor entries up).
void scoreFactors(const RowMatrixF& factors, const float* x, float* out, int threads = 0);

// A half-precision copy of a factor matrix for the approximate first pass of topNFactors
// (half the bytes to read), with what bounds its error. Built where the factors are set
// (fit, restore) and read-only afterwards, so queries may share it from any thread. Not
// usable when the CPU lacks F16C/AVX2/FMA or a factor is beyond the half range.
class HalfFactors {
public:
    HalfFactors() = default;
    explicit HalfFactors(const RowMatrixF& factors);
    bool usable() const { return !m_half.empty(); }
    int64_t rows() const { return m_rows; }
    int stride() const { return m_stride; }
    const uint16_t* data() const { return m_half.data(); }
    // A bound on |half-precision score - scoreFactors score (+ bias)| for every row and the
    // query x (f entries); -1 when the query is not finite or could overflow.
    double errorBound(const float* x, int f, double maxAbsBias) const;

private:
    std::vector<uint16_t> m_half; // rows x stride, zero padded
    int64_t m_rows = 0;
    int m_stride = 0;
    double m_maxNorm = 0; // the largest Euclidean norm of a row
};

// The top n of factors * x (+ bias), skipping `exclude` (sorted ascending): exactly what
// scoreFactors (+ bias) and topN return, items, scores and tie order alike. With a usable
// `half`, a first pass over the half copy keeps only the items whose approximate score is
// within twice the error bound of the n-th best, and those are rescored in f32. The pass
// is split across the worker pool (threads as for scoreFactors).
std::vector<ScoredItem> topNFactors(const RowMatrixF& factors, const HalfFactors& half, const float* x, int n,
    std::span<const int32_t> exclude, std::span<const float> bias = {}, int threads = 0);

// Global popularity: the number of users who interacted with each item.
class Popularity final : public Recommender {
public:
    explicit Popularity(const QJsonObject& params = {});
    QString algorithm() const override { return QStringLiteral("pop"); }
    QJsonObject params() const override { return {}; }
    void fit(const Csr& userItems, const TaskControl& control = {}) override;
    void score(const History& history, std::span<float> out) const override;
    QByteArray save() const override;
    void restore(const QByteArray& payload) override;
    const std::vector<float>& counts() const { return m_counts; }

private:
    std::vector<float> m_counts;
};

// Item-kNN: cosine on the binary matrix with shrinkage,
// sim(i, j) = |U_i & U_j| / (sqrt(|U_i| |U_j|) + shrink), keeping the k most similar
// neighbours of each item. score(j) = sum over history items i of sim(i, j).
// Params: k (100), shrink (10).
class ItemKnn final : public Recommender {
public:
    explicit ItemKnn(const QJsonObject& params = {});
    QString algorithm() const override { return QStringLiteral("itemknn"); }
    QJsonObject params() const override;
    void fit(const Csr& userItems, const TaskControl& control = {}) override;
    void score(const History& history, std::span<float> out) const override;
    QByteArray save() const override;
    void restore(const QByteArray& payload) override;
    const Csr& neighbours() const { return m_sim; }

private:
    int m_k = 100;
    double m_shrink = 10;
    Csr m_sim; // items x items, row i = the neighbours of i with similarities in values
};

// EASE (Steck 2019): B = I - P diag(1/diag(P)), P = (X^T X + lambda I)^-1, diag(B) = 0.
// With fewer users than items the inverse goes through the Woodbury identity,
// P = (I - X^T (X X^T + lambda I)^-1 X) / lambda, a users x users solve.
// Params: lambda (250).
class Ease final : public Recommender {
public:
    explicit Ease(const QJsonObject& params = {});
    QString algorithm() const override { return QStringLiteral("ease"); }
    QJsonObject params() const override;
    void fit(const Csr& userItems, const TaskControl& control = {}) override;
    void score(const History& history, std::span<float> out) const override;
    QByteArray save() const override;
    void restore(const QByteArray& payload) override;
    const RowMatrixF& weights() const { return m_b; }
    bool usedWoodbury() const { return m_woodbury; }

private:
    double m_lambda = 250;
    bool m_woodbury = false;
    RowMatrixF m_b;
};

// Implicit ALS (Hu, Koren, Volinsky 2008) with conjugate-gradient solves (Takacs et al.),
// confidence c = 1 + alpha * (use_values ? value : 1). Multithreaded over users / items.
// Params: factors (64), reg (30), alpha (2), iterations (15), cg_steps (3),
// use_values (false), seed (42), ann ("auto": retrieval as in cf/ann.h). A history is folded in with one exact least-squares solve.
// A model may also hold factors trained elsewhere (setImported, cf/factorimport.h); its
// params() then carry imported_from, which the constructor accepts and ignores, and its
// recommendTop never returns an item whose factors are all zero (not in the file).
class Ials final : public Recommender {
public:
    explicit Ials(const QJsonObject& params = {});
    QString algorithm() const override { return QStringLiteral("ials"); }
    QJsonObject params() const override;
    void fit(const Csr& userItems, const TaskControl& control = {}) override;
    void score(const History& history, std::span<float> out) const override;
    std::vector<ScoredItem> recommendTop(const History& history, int n) const override;
    QByteArray save() const override;
    void restore(const QByteArray& payload) override;

    // The user vector an exact solve gives for this history (fold-in).
    Eigen::VectorXf foldIn(const History& history) const;
    const RowMatrixF& userFactors() const { return m_user; }
    const RowMatrixF& itemFactors() const { return m_item; }
    const AnnRetriever& ann() const { return m_ann; }
    // Takes factors trained elsewhere, already mapped onto the workspace's users and items
    // (rows in index order); `provenance` is kept in the snapshot and shown as imported_from.
    void setImported(RowMatrixF user, RowMatrixF item, const QJsonObject& provenance);
    // Weighted squared loss plus regularisation, the objective ALS minimises.
    double loss(const Csr& userItems) const;
    std::vector<double> lossHistory; // filled when track_loss is set

private:
    Eigen::VectorXf userVector(const History& history) const;
    void findItemsWithoutFactors();
    float confidence(float value) const { return 1.0f + m_alpha * (m_useValues ? value : 1.0f); }
    int m_factors = 64;
    float m_reg = 30.0f;
    float m_alpha = 2.0f;
    int m_iterations = 15;
    int m_cgSteps = 3;
    bool m_useValues = false;
    bool m_trackLoss = false;
    quint64 m_seed = 42;
    QJsonObject m_importedFrom; // empty for a model fitted here
    std::vector<int32_t> m_withoutFactors; // imported: the all-zero item rows, ascending
    QString m_annParam = QStringLiteral("auto");
    RowMatrixF m_user;
    RowMatrixF m_item;
    HalfFactors m_itemHalf;
    AnnRetriever m_ann; // after m_item: stops its background build before the factors go
};

// BPR-MF (Rendle et al. 2009): SGD on sampled (user, positive, negative) triples with an
// item bias. Params: factors (64), lr (0.02), reg (0.015), epochs (150), seed (42),
// fold_in_epochs (30), ann ("auto", cf/ann.h). Training is single-threaded, so it is deterministic per seed.
class Bpr final : public Recommender {
public:
    explicit Bpr(const QJsonObject& params = {});
    QString algorithm() const override { return QStringLiteral("bpr"); }
    QJsonObject params() const override;
    void fit(const Csr& userItems, const TaskControl& control = {}) override;
    void score(const History& history, std::span<float> out) const override;
    std::vector<ScoredItem> recommendTop(const History& history, int n) const override;
    QByteArray save() const override;
    void restore(const QByteArray& payload) override;
    Eigen::VectorXf foldIn(const History& history) const;
    const AnnRetriever& ann() const { return m_ann; }

private:
    Eigen::VectorXf userVector(const History& history) const;
    int m_factors = 64;
    float m_lr = 0.02f;
    float m_reg = 0.015f;
    int m_epochs = 150;
    int m_foldInEpochs = 30;
    quint64 m_seed = 42;
    QString m_annParam = QStringLiteral("auto");
    RowMatrixF m_user;
    RowMatrixF m_item;
    Eigen::VectorXf m_bias;
    HalfFactors m_itemHalf;
    AnnRetriever m_ann; // after m_item and m_bias: stops its background build before they go
};

} // namespace recwb::cf

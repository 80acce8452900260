"""On-device online learning and the device half of federated meta-learning.

Entry points: ``network.Network`` (numpy MLP over one flat parameter vector),
``learner.OnlineLearner`` / ``learner.OnlineAutoencoder`` (batch-1 learning behind a frozen
backbone), ``fl_client.FederatedClient`` (one FL round on the device), ``codec`` (update wire
format), ``experiments.build_experiment`` (the paper's four experiments + digits), and the
agent tasks ``task.OnlineLearningTask`` (kind ``online``) and ``fl_task.FederatedClientTask``
(kind ``fl_client``). See docs/online-learning.md and docs/federated-learning.md.
"""

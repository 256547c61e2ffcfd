"""carolbatch/training: training whatever model the app builds.

contract.py   the model contract (Model, Fitted, OneStepModel for estimators without epochs, progress)
partial_fit.py  EpochModel: a pipeline whose last step has partial_fit, epoch by epoch, in memory or in chunks
epochs.py     the epoch loop with early stopping (StoppingRule, EpochState), the batch size rule, progress
fitting.py    the split, and train_model: the app's model fitted through the contract into a TrainedModel
rows.py       rows as a model sees them (TrainingRows), predictions by chunks
checkpoints.py  the state a training keeps in its task's store to go on after a kill (Checkpoints)
target_scaling.py  StandardisedTarget: a partial_fit regressor that learns the standardised target
"""

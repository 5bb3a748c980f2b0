import pandas as pd
from sklearn.linear_model import LogisticRegression


def create_new_dataframe(data, column_names):
    """Align the one-hot columns of another split (e.g. test) with those of the training data."""
    new_data = {}

    for column in column_names:
        if column in data.columns:
            new_data[column] = data[column]
        else:
            new_data[column] = pd.Series(0, index=data.index)

    new_dataframe = pd.DataFrame(new_data)
    return new_dataframe


# Loading the dataset to train a binary classifier downstream
df = pd.read_csv("data/train.csv")
num_examples = df.shape[0]
df = df.sample(frac=1, random_state=1)
train_data = df[0 : int(0.8 * num_examples)]
val_data = df[int(0.8 * num_examples) :]

TargetY = train_data["survived"]
TargetY_test = val_data["survived"]

# Expanding features to have boolean values as opposed to categorical
# You can check all the features as column names and try to find good correlations with the target
# variable (data_description.txt describes them)
selectColumns = ["pclass"]
numericColumns = ["age"]
ResourceX = pd.get_dummies(train_data[selectColumns], dtype=float).join(train_data[numericColumns])
ResourceX_test = pd.get_dummies(val_data[selectColumns], dtype=float).join(val_data[numericColumns])


# ***********************************************
# In this part of the code, write and train the model on the above dataset to perform the task.
# Note that the output accuracy should be stored in train_accuracy and val_accuracy variables
# ***********************************************

model = LogisticRegression()
model.fit(ResourceX, TargetY)
train_accuracy = model.score(ResourceX, TargetY)
val_accuracy = model.score(ResourceX_test, TargetY_test)

# ***********************************************
# End of the main training module
# ***********************************************

print(f"Train Accuracy: {train_accuracy}")
print(f"Validation Accuracy: {val_accuracy}")

test_data = pd.read_csv("data/test.csv")
test_X = pd.get_dummies(test_data[selectColumns], dtype=float).join(test_data[numericColumns])
test_X = create_new_dataframe(test_X, ResourceX.columns)

test_preds = model.predict(test_X)


output = pd.DataFrame({"PassengerId": test_data.PassengerId, "Survived": test_preds})
output.to_csv("submission.csv", index=False)
